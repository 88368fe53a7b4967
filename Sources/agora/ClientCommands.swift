import AgoraClient
import AgoraCore
import ArgumentParser
import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

/// `agora client`: the data consumer's tool. It speaks XMPP to any Agora gateway, like any
/// other client would, and never opens a store; every receipt and reading proof is checked
/// against the pinned log key before anything is printed.
struct Client: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A consumer's XMPP client for an Agora gateway: search, buy, read with proofs.",
        discussion: """
            Logs in as --jid with SCRAM-SHA-256 (password from --password-stdin, --password-file FILE \
            (mode 0600) or $AGORA_CLIENT_PASSWORD) or with SASL EXTERNAL (--cert and --key from agora client csr). \
            STARTTLS is required; the server's certificate must chain to --ca FILE (else the system's store) and name \
            the JID's domain. The gateway's log key is pinned in ~/.config/agora/known-logs on first use (or given \
            with --log-key); a gateway that later presents another is refused.
            """,
        subcommands: [Search.self, Balance.self, Buy.self, Read.self, Watch.self, Purchases.self, Rate.self, Scores.self, LogKey.self, CSR.self])

    struct Connection: ParsableArguments {
        @Option(help: "The account, e.g. bob@gw1.example.") var jid: String
        @Flag(name: .customLong("password-stdin"), help: "Read the password from the first line of stdin.") var passwordStdin = false
        @Option(name: .customLong("password-file"), help: ArgumentHelp("Read the password from FILE (mode 0600, not readable by others).", valueName: "file"))
        var passwordFile: String?
        @Option(help: ArgumentHelp("Certificate (PEM) for SASL EXTERNAL, from agora client csr.", valueName: "file")) var cert: String?
        @Option(help: ArgumentHelp("Its private key (PEM).", valueName: "file")) var key: String?
        @Option(help: ArgumentHelp("CA certificate (PEM) the server's certificate must chain to; default: the system's store.", valueName: "file"))
        var ca: String?
        @Option(help: ArgumentHelp("Connect to HOST:PORT instead of the JID's domain on 5222.", valueName: "host:port")) var server: String?
        @Option(name: .customLong("log-key"), help: ArgumentHelp("The gateway's log verifier key, from its operator (else pinned on first use).", valueName: "vkey"))
        var logKey: String?
        @Option(name: .customLong("known-logs"), help: ArgumentHelp("Pin file (default ~/.config/agora/known-logs).", valueName: "file"))
        var knownLogs: String?
        @Option(help: "Seconds to wait for any one answer.") var timeout = 30
        @Option(help: ArgumentHelp("The gateway to use when it is not your account's server (a remote account, over federation).",
                                   valueName: "domain")) var gateway: String?

        func options() throws -> XMPPClient.Options {
            let jid: BareJID
            do { jid = try BareJID(self.jid) } catch { throw ValidationError("--jid: \(error)") }
            var options = XMPPClient.Options(jid: jid, caFile: ca)
            if let cert {
                guard let key else { throw ValidationError("--cert needs --key") }
                options.certificate = (cert, key)
            } else {
                options.password = try password()
            }
            if let server {
                guard let colon = server.lastIndex(of: ":"), let port = Int(server[server.index(after: colon)...]), (1...65535).contains(port) else {
                    throw ValidationError("--server: expected HOST:PORT, not \(server)")
                }
                options.server = (String(server[..<colon]), port)
            }
            guard (1...3600).contains(timeout) else { throw ValidationError("--timeout must be 1…3600 seconds") }
            options.timeout = .seconds(timeout)
            if let gateway {
                do { try BareJID.validateDomain(gateway.lowercased(), original: gateway, field: "--gateway") } catch { throw ValidationError("\(error)") }
                options.gateway = gateway.lowercased()
            }
            return options
        }

        private func password() throws -> String {
            if passwordStdin { return try PasswordInput.readLine() }
            if let passwordFile {
                var info = stat()
                guard stat(passwordFile, &info) == 0 else { throw CLIUsageError(description: "cannot read \(passwordFile): \(systemErrorText(errno))") }
                guard info.st_mode & 0o077 == 0 else {
                    throw CLIUsageError(description: "\(passwordFile) is readable by others (mode \(String(info.st_mode & 0o777, radix: 8))); chmod 600 it")
                }
                let text = String(decoding: try InputFile.read(passwordFile, limit: 4096), as: UTF8.self)
                guard let line = text.split(separator: "\n").first, !line.isEmpty else { throw CLIUsageError(description: "\(passwordFile) holds no password") }
                return String(line)
            }
            if let password = GlobalOptions.environment["AGORA_CLIENT_PASSWORD"], !password.isEmpty { return password }
            throw ValidationError("no password: give --password-stdin, --password-file FILE or $AGORA_CLIENT_PASSWORD (or --cert and --key)")
        }

        /// Connects, runs `body`, and closes the connection whatever happens.
        func with<T>(_ body: (XMPPClient) async throws -> T) async throws -> T {
            let client = try await XMPPClient.connect(try options())
            do {
                let result = try await body(client)
                await client.close()
                return result
            } catch {
                await client.close()
                throw error
            }
        }

        /// The pinned log key (see `LogKeyPin`).
        func pin(_ client: XMPPClient) async throws -> LogKeyPin {
            try await LogKeyPin.resolve(client: client, explicit: logKey,
                                        pinFile: knownLogs ?? LogKeyPin.defaultPinFile(environment: GlobalOptions.environment))
        }
    }

    struct Search: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Find sensors (XEP-0347): by kind, near a place, under a price, by dependability.")
        @OptionGroup var connection: Connection
        @Option(help: "What it measures (its CLASS), e.g. pm25.") var kind: String?
        @Option(help: ArgumentHelp("Within KM of LAT,LON.", valueName: "lat,lon,km")) var near: String?
        @Option(name: .customLong("max-price"), help: "At most this many credits per hour.") var maxPrice: Int64?
        @Option(help: "Order by dependability, trust, reputation or reliability (highest first; a share of places goes to newcomers).")
        var sort: String?
        @Option(name: .customLong("min-dependability"), help: "Only sensors at least this dependable for you (0…1).") var minDependability: Double?
        @Option(help: ArgumentHelp("Ask this XEP-0347 registry (a JID, e.g. registry.city.example) instead of the gateway: sensors of every gateway registered there.",
                                   valueName: "jid")) var registry: String?
        @Flag(help: "Print JSON.") var json = false

        func validate() throws {
            if let sort, !["dependability", "trust", "reputation", "reliability"].contains(sort.lowercased()) {
                throw ValidationError("--sort is dependability, trust, reputation or reliability")
            }
        }

        func run() async throws {
            var area: SensorSearch.Area?
            if let near {
                let parts = near.split(separator: ",").compactMap { Double($0) }
                guard parts.count == 3, (-90...90).contains(parts[0]), (-180...180).contains(parts[1]), parts[2] > 0 else {
                    throw ValidationError("--near: expected LAT,LON,KM, e.g. 48.85,2.35,2")
                }
                area = .init(latitude: parts[0], longitude: parts[1], kilometres: parts[2])
            }
            let things = try await connection.with {
                try await SensorSearch(client: $0).search(kind: kind, area: area, maxPrice: maxPrice, sort: sort?.uppercased(),
                                                          minDependability: minDependability, registry: registry)
            }
            if json { print(try JSONOutput.line(things)); return }
            if things.isEmpty { print("no sensor matches"); return }
            for thing in things {
                let tags = thing.tags
                var line = "\(thing.sensor)\t\(tags["CLASS"] ?? "-")\t\(tags["PRICE"].map { "\($0)/h" } ?? "-")\t\(tags["OWNER"] ?? "-")"
                // Who serves it, whenever that is not the gateway asked (always, from a registry).
                let asked = (connection.gateway ?? String(connection.jid.split(separator: "@").last ?? "")).lowercased()
                if let jid = thing.jid, registry != nil || jid.lowercased() != asked { line += "\tat \(jid)" }
                if let name = tags["NAME"] { line += "\t\(name)" }
                if let distance = thing.distanceKm { line += "\t\(((distance * 100).rounded() / 100)) km" }
                if let d = tags["DEPENDABILITY"].flatMap(Double.init) {
                    line += "\tdependability \((d * 1000).rounded() / 1000)\(tags["RATINGS"] == "0" || tags["RATINGS"] == "0.0" ? " (not rated yet)" : "")"
                }
                print(line)
            }
        }
    }

    struct Balance: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Your credits.")
        @OptionGroup var connection: Connection

        func run() async throws {
            print(try await connection.with { try await MarketRequests(client: $0).balance() })
        }
    }

    struct Buy: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Buy a window of a sensor's data; prints and saves the verified receipt.",
            discussion: "A retry with the same --request-id returns the first purchase and charges nothing.")
        @OptionGroup var connection: Connection
        @Argument(help: "The sensor id.") var sensor: String
        @Option(help: "Start (RFC 3339).") var from: String
        @Option(help: "End (RFC 3339), exclusive.") var to: String
        @Option(name: .customLong("max-credits"), help: "Pay at most this much; refused (and nothing charged) if it costs more.") var maxCredits: Int64?
        @Option(name: .customLong("request-id"), help: "Idempotency key (default: a new random one).") var requestID: String?
        @Option(help: ArgumentHelp("Where to save the receipt (default: receipt-<ledger index>.json).", valueName: "file")) var receipt: String?

        func run() async throws {
            let request = requestID ?? "client-" + String(UInt64.random(in: .min ... .max), radix: 16)
            let purchase = try await connection.with { client in
                let pin = try await connection.pin(client)
                return try await MarketRequests(client: client).buy(sensor: sensor, from: from, to: to, maxCredits: maxCredits,
                                                                    requestID: request, verifier: pin.verifier)
            }
            let file = receipt ?? "receipt-\(purchase.ledgerIndex).json"
            guard let handle = fopen(file, "w"), fputs(purchase.receipt + "\n", handle) >= 0, fclose(handle) == 0 else {
                throw CLIUsageError(description: "the purchase is made, but its receipt could not be saved to \(file): \(systemErrorText(errno)); agora client purchases lists it")
            }
            print("\(purchase.replayed ? "already bought" : "bought") \(purchase.sensor) \(purchase.from) – \(purchase.to) for \(purchase.credits) credits (purchase \(purchase.id), ledger entry \(purchase.ledgerIndex))")
            print("receipt verified and saved to \(file) (check it offline: agora verify-receipt \(file) --log-key KEY)")
        }
    }

    struct Read: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Read a window of readings; every one is verified against the ledger before any is printed.",
            discussion: "Progress goes to stderr. --proofs keeps each reading's record and audit path, and the commits' receipts, in the JSON output.")
        @OptionGroup var connection: Connection
        @Argument(help: "The sensor id.") var sensor: String
        @Option(help: "Start (RFC 3339).") var from: String
        @Option(help: "End (RFC 3339), exclusive.") var to: String
        @Flag(help: "Keep the proofs in the output (JSON).") var proofs = false
        @Option(help: "csv or json (default csv; json with --proofs).") var format: String?
        @Option(name: .customLong("page-size"), help: "Readings per request (1…1000).") var pageSize = 500

        struct Output: Encodable {
            let sensor: String
            let readings: [VerifiedReadings.Item]
            let receipts: [String: String]?
            let logKey: String
        }

        func run() async throws {
            let id: SensorID
            do { id = try SensorID(sensor) } catch { throw ValidationError("\(error)") }
            let format = self.format ?? (proofs ? "json" : "csv")
            guard format == "csv" || format == "json" else { throw ValidationError("--format is csv or json") }
            guard !(proofs && format == "csv") else { throw ValidationError("--proofs needs --format json") }
            guard (1...1000).contains(pageSize) else { throw ValidationError("--page-size must be 1…1000") }
            let started = ContinuousClock.now
            let (result, pin) = try await connection.with { client in
                let pin = try await connection.pin(client)
                let result = try await VerifiedReadings(client: client).read(
                    sensor: id, from: from, to: to, verifier: pin.verifier, keepProofs: proofs, pageSize: pageSize) { count, pages in
                        let seconds = max(0.001, Double((ContinuousClock.now - started).components.attoseconds) / 1e18 + Double((ContinuousClock.now - started).components.seconds))
                        FileHandleOutput.standardError("read \(count) readings in \(pages) pages (\(Int(Double(count) / seconds)) readings/s), all verified")
                    }
                return (result, pin)
            }
            if format == "json" {
                let receipts = proofs ? Dictionary(uniqueKeysWithValues: try result.receipts.map { (String($0.key), String(decoding: try $0.value.json(), as: UTF8.self)) }) : nil
                print(try JSONOutput.line(Output(sensor: sensor, readings: result.items, receipts: receipts, logKey: pin.key)))
            } else {
                print("time,name,unit,value")
                for item in result.items {
                    let value = item.v.map { String($0) } ?? item.vs ?? item.vb.map { $0 ? "true" : "false" } ?? item.vd ?? ""
                    print("\(item.t),\(Self.csv(item.n)),\(Self.csv(item.u ?? "")),\(Self.csv(value))")
                }
            }
            FileHandleOutput.standardError("\(result.items.count) readings, \(Set(result.items.map(\.commit)).count) ledger commits, verified with log key \(pin.key) (\(pin.source))")
        }

        static func csv(_ text: String) -> String {
            text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) ? "\"" + text.split(separator: "\"", omittingEmptySubsequences: false).joined(separator: "\"\"") + "\"" : text
        }
    }

    struct Purchases: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Your purchases.")
        @OptionGroup var connection: Connection
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let list = try await connection.with { try await MarketRequests(client: $0).purchases() }
            if json { print(try JSONOutput.line(list)); return }
            if list.isEmpty { print("no purchases") }
            for p in list { print("\(p.id)\t\(p.sensor)\t\(p.from)\t\(p.to)\t\(p.credits) credits\tentry \(p.ledgerIndex)") }
        }
    }

    struct LogKey: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "log-key",
            abstract: "The gateway's log verifier key: checked against its genesis receipt, pinned on first use.",
            discussion: "Compare it with the key the operator gives you (agora status on the gateway) before trusting a receipt.")
        @OptionGroup var connection: Connection

        func run() async throws {
            let pin = try await connection.with { try await connection.pin($0) }
            print(pin.key)
            FileHandleOutput.standardError("\(pin.origin): \(pin.source)")
        }
    }

    struct CSR: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "csr",
            abstract: "Get a certificate for this account from the gateway's CA, to log in with SASL EXTERNAL (--cert, --key).",
            discussion: "The key is made here and never sent. A new certificate revokes the one the account held.")
        @OptionGroup var connection: Connection
        @Option(name: .customLong("key-out"), help: ArgumentHelp("Where to write the new key (mode 0600).", valueName: "file")) var keyOut: String
        @Option(name: .customLong("cert-out"), help: ArgumentHelp("Where to write the certificate chain.", valueName: "file")) var certOut: String

        func run() async throws {
            let issued = try await connection.with { try await CertificateRequest(client: $0).request(keyFile: keyOut, certificateFile: certOut) }
            print("certificate \(issued.serial) (ledger entry \(issued.ledgerIndex)) written to \(certOut), its key to \(keyOut)")
        }
    }
}
