import AgoraApp
import AgoraCore
import AgoraMarket
import AgoraPKI
import ArgumentParser
import FoundationEssentials
import SwiftASN1
#if canImport(Glibc)
import Glibc
#endif

struct CA: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ca",
        abstract: "The gateway's certificate authority: sign CSRs, list, revoke, CRL, server certificates.",
        subcommands: [Show.self, Import.self, CSR.self, InstallChain.self, Sign.self, List.self, Revoke.self, CRL.self, ServerCert.self]
    )

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the CA certificate (PEM), or its SHA-256 fingerprint.")
        @OptionGroup var global: GlobalOptions
        @Flag(help: "Print the SHA-256 fingerprint instead.") var fingerprint = false

        func run() async throws {
            let text = try await global.withGateway { gateway in
                let service = try GatewayCertificateDesk(gateway: gateway)
                return fingerprint ? try service.caFingerprint() : try service.authority.certificate.serializeAsPEM().pemString
            }
            print(text)
        }
    }

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Adopt an existing CA (e.g. the city's own root) instead of the one init created (a ledger entry).",
            discussion: "CERT: PEM CA certificate. KEY: its PEM ECDSA P-256 private key. Allowed only before the CA has issued anything.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "PEM CA certificate.") var cert: String
        @Argument(help: "PEM P-256 private key of that certificate.") var key: String

        func run() async throws {
            let certificatePEM = String(decoding: try InputFile.read(cert, limit: 64 * 1024), as: UTF8.self)
            let keyPEM = String(decoding: try InputFile.read(key, limit: 16 * 1024), as: UTF8.self)
            let (_, accepted) = try await global.withGateway { gateway in
                try await GatewayCertificateDesk.importAuthority(certificatePEM: certificatePEM, keyPEM: keyPEM, into: gateway, actor: .operator)
            }
            print("adopted the imported CA (ledger entry \(accepted.index)); agora ca show prints it")
        }
    }

    struct CSR: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a CSR (PEM) for this CA's own key, for a city root to sign (then: agora ca install-chain).",
            discussion: "The root signs it as a CA (basicConstraints cA with path length 0, keyCertSign, cRLSign) constrained to this gateway's domain (nameConstraints permitted;DNS:<domain>); the key never leaves the gateway.")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let pem = try await global.withGateway { gateway in
                try GatewayCertificateDesk(gateway: gateway).authority.signingRequest(domain: XMPPSetup.domain(of: gateway)).serializeAsPEM().pemString
            }
            print(pem)
        }
    }

    struct InstallChain: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "install-chain",
            abstract: "Install this CA's certificate as the city root issued it; federation peers that trust the root then trust this gateway.",
            discussion: """
                CERTS: PEM, the answer to agora ca csr (same key and subject), optionally followed by intermediates. \
                The CA's own self-signed certificate stays what the gateway's clients and sensors trust; the server \
                shows the city chain to federation peers ([s2s]) from the next start of agora serve.
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "PEM: the CA certificate issued by the city root, then any intermediates.") var certs: String

        func run() async throws {
            let pem = String(decoding: try InputFile.read(certs, limit: 256 * 1024), as: UTF8.self)
            let installed = try await global.withGateway { gateway in try GatewayCertificateDesk.installCityChain(pem: pem, into: gateway) }
            print("installed the CA certificate issued by \(installed.issuer); restart agora serve to show it to federation peers")
        }
    }

    struct Sign: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Sign a CSR for a sensor or a user after the policy checks; prints the PEM chain (a ledger entry).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "CSR file, PEM or DER ('-' for stdin).") var csrFile: String
        @Option(name: .customLong("for"), help: "The identity: sensor:ID or a bare JID.") var identity: String
        @Option(help: "Validity in days (default: ca.sensor_days or ca.user_days).") var days: Int?

        func run() async throws {
            let identity: CertificateIdentity
            do { identity = try CertificateIdentity(parsing: self.identity) } catch { throw MarketRefusal.invalid(error) }
            let csr = try InputFile.read(csrFile, limit: CSRPolicy.maxSize)
            let issued = try await global.withGateway { gateway in
                try await GatewayCertificateDesk(gateway: gateway).sign(csr: csr, for: identity, days: days, actor: .operator)
            }
            FileHandleOutput.standardError("issued certificate \(issued.serial) for \(identity) (ledger entry \(issued.ledgerIndex))")
            print(issued.chainPEM, terminator: "")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List every certificate the CA issued, with its status.")
        @OptionGroup var global: GlobalOptions
        @Flag(help: "Print JSON.") var json = false

        struct Row: Codable {
            let serial: String, subject: String, fingerprint: String, notAfter: String, status: String, reason: String, ledgerIndex: UInt64
        }

        func run() async throws {
            let rows = try await global.withGateway(unlockKeys: false) { gateway in
                try gateway.market.read { try $0.certificates() }.map {
                    Row(serial: $0.issue.serial, subject: $0.issue.subject, fingerprint: $0.issue.fingerprint, notAfter: $0.issue.notAfter.rfc3339,
                        status: $0.revoked ? "revoked" : "valid", reason: $0.revocationReason, ledgerIndex: $0.ledgerIndex)
                }
            }
            if json {
                print(try JSONOutput.line(rows))
            } else {
                for row in rows { print("\(row.serial)\t\(row.subject)\t\(row.notAfter)\t\(row.status)\(row.reason.isEmpty ? "" : " (\(row.reason))")") }
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a certificate and regenerate the CRL (a ledger entry).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Serial number, hex as `ca list` prints it.") var serial: String
        @Option(help: "RFC 5280 reason: \(RevocationReason.final.map(\.rawValue).joined(separator: ", ")).") var reason: String

        func run() async throws {
            guard let reason = RevocationReason(rawValue: reason), RevocationReason.final.contains(reason) else {
                throw MarketRefusal.invalid(.malformed("reason", reason, reason: "expected one of \(RevocationReason.final.map(\.rawValue).joined(separator: ", "))"))
            }
            let accepted = try await global.withGateway { gateway in
                try await GatewayCertificateDesk(gateway: gateway).revoke(serial: serial, reason: reason, actor: .operator)
            }
            print("revoked certificate \(serial.lowercased()) (\(reason.rawValue)); CRL regenerated (ledger entry \(accepted.index))")
        }
    }

    struct CRL: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "crl", abstract: "Print the current CRL (PEM, or DER with --der).")
        @OptionGroup var global: GlobalOptions
        @Flag(help: "Write DER bytes instead of PEM.") var der = false

        func run() async throws {
            let crl = try await global.withGateway { try await GatewayCertificateDesk(gateway: $0).currentCRL() }
            if der {
                var written = 0
                while written < crl.count {
                    let n = crl.withUnsafeBytes { write(1, $0.baseAddress! + written, $0.count - written) }
                    guard n > 0 else { throw CLIUsageError(description: "cannot write the CRL to stdout") }
                    written += n
                }
            } else {
                print(PEMDocument(type: "X509 CRL", derBytes: crl).pemString)
            }
        }
    }

    struct ServerCert: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "server-cert",
            abstract: "Issue a key and certificate for one of the gateway's TLS listeners (a ledger entry).",
            discussion: "Writes DIR/server.key (mode 0600) and DIR/server.pem (the chain: leaf, then CA).")
        @OptionGroup var global: GlobalOptions
        @Option(name: .customLong("dns"), parsing: .upToNextOption, help: "DNS names, the first becomes the CN.") var dnsNames: [String]
        @Option(help: "Output directory.") var out: String
        @Option(help: "Validity in days (default: ca.server_days).") var days: Int?

        func run() async throws {
            let (issued, keyPEM) = try await global.withGateway { gateway in
                try await GatewayCertificateDesk(gateway: gateway).serverCertificate(dnsNames: dnsNames, days: days, actor: .operator)
            }
            try GatewayCertificateDesk.writeListenerFiles(keyPEM: keyPEM, chainPEM: issued.chainPEM, to: out)
            print("wrote \(out)/server.key (0600) and \(out)/server.pem for \(dnsNames.joined(separator: ", ")); serial \(issued.serial) (ledger entry \(issued.ledgerIndex))")
        }
    }
}

