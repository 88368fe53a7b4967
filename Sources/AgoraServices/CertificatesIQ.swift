internal import AgoraCore
internal import AgoraMarket
internal import AgoraPKI
internal import AgoraXMPP
internal import FoundationEssentials
internal import SwiftASN1

/// `urn:agora:pki:1`: certificates for accounts, and what anyone needs to check them.
///
///     set <csr>PEM</csr>            → <certificate serial='' ledger-index=''>PEM chain</certificate>
///     get <cert serial=''/>  or  <cert identity=''/>
///                                  → <cert serial='' subject='' not-after='' revoked='' ledger-index=''>PEM</cert>
///     get <ca/>                    → <ca fingerprint=''>PEM</ca>
///     get <crl/>                   → <crl>base64 DER</crl>
/// A CSR must name the requester's own bare JID (common name and any xmppAddr/SAN): the
/// issued certificate then logs in with SASL EXTERNAL. Certificates are public records (the
/// ledger holds every one), so any account may look one up.
enum CertificatesIQ {
    static let namespace = "urn:agora:pki:1"

    static func register(into iq: inout IQRouter, context: IQContext, desk: any CertificateDesk) {
        iq.register(namespace) { request in
            switch (request.payload.name, request.isSet) {
            case ("csr", true):
                let account = request.account
                // A pretty-printed <csr> starts with a line break; PEM detection wants "-----" first.
                let pem = Array(request.payload.text.drop(while: \.isWhitespace).utf8)
                // Every certificate is a permanent ledger entry: so many per account per day.
                if let refusal = context.quotas.certificate(for: account) { return .error(refusal) }
                return context.later {
                    do {
                        let issued = try await desk.signCSR(pem, for: account)
                        return XMLElement("certificate", namespace: namespace, attributes: [
                            .init("serial", issued.serial), .init("ledger-index", String(issued.ledgerIndex)),
                        ], text: issued.chainPEM)
                    } catch let refusal as CertificateRefusal {
                        // Nothing was stored: the refused CSR does not count against the day's certificates.
                        context.quotas.refundCertificate(for: account)
                        throw StanzaError(refusal.code == .wrongIdentity ? .forbidden : .badRequest, refusal.description)
                    } catch let refusal as MarketRefusal {
                        // Refused by the market (one certificate at a time): nothing was stored either.
                        context.quotas.refundCertificate(for: account)
                        throw refusal
                    }
                }
            case ("cert", false):
                return context.later { try lookup(IQPayload(request.payload), context) }
            case ("ca", false):
                return context.now {
                    let pem = try desk.authorityPEM()
                    return XMLElement("ca", namespace: namespace, text: pem)
                }
            case ("crl", false):
                return context.later {
                    XMLElement("crl", namespace: namespace, text: Data(try await desk.revocationList()).base64EncodedString())
                }
            case (let name, let isSet):
                return .error(StanzaError(.badRequest, "\(namespace) has no \(isSet ? "set" : "get") <\(name)/>; see PROTOCOL.md"))
            }
        }
    }

    private static func lookup(_ payload: IQPayload, _ context: IQContext) throws -> XMLElement {
        let records = try context.market.read { state throws -> [CertificateRecord] in
            if let serial = payload.optional("serial") {
                return try state.certificate(serial.lowercased()).map { [$0] } ?? []
            }
            guard let identity = payload.optional("identity") else {
                throw StanzaError(.badRequest, "<cert/> needs 'serial' or 'identity' (a bare JID or sensor:<id>)")
            }
            return try state.certificates().filter { $0.issue.subject == identity }
        }
        guard let record = records.max(by: { $0.ledgerIndex < $1.ledgerIndex }) else {
            throw StanzaError(.itemNotFound, "no certificate with that serial or identity")
        }
        guard let der = Data(base64Encoded: record.issue.certificate) else { throw StanzaError(.internalServerError, "a stored certificate is unreadable") }
        let pem = PEMDocument(type: "CERTIFICATE", derBytes: Array(der)).pemString + "\n"
        return XMLElement("cert", namespace: namespace, attributes: [
            .init("serial", record.issue.serial), .init("subject", record.issue.subject), .init("not-after", record.issue.notAfter.rfc3339),
            .init("revoked", record.revoked ? "true" : "false"), .init("ledger-index", String(record.ledgerIndex)),
        ], text: pem)
    }
}

