public import AgoraCore
internal import Crypto
internal import SwiftASN1
internal import X509

/// RFC 5280 §5.3.1 reason codes, named as the RFC names them.
public enum RevocationReason: String, Sendable, CaseIterable, Codable {
    case unspecified, keyCompromise, cACompromise, affiliationChanged, superseded,
         cessationOfOperation, certificateHold, removeFromCRL, privilegeWithdrawn, aACompromise

    /// Reasons a full CRL may carry: removeFromCRL belongs to delta CRLs only (RFC 5280
    /// §5.3.1), and a hold could never be released here, so revocation is always final.
    public static let final: [RevocationReason] = allCases.filter { $0 != .removeFromCRL && $0 != .certificateHold }

    public var code: UInt8 {
        switch self {
        case .unspecified: 0
        case .keyCompromise: 1
        case .cACompromise: 2
        case .affiliationChanged: 3
        case .superseded: 4
        case .cessationOfOperation: 5
        case .certificateHold: 6
        case .removeFromCRL: 8
        case .privilegeWithdrawn: 9
        case .aACompromise: 10
        }
    }
}

/// One revoked certificate as the CRL lists it.
public struct RevokedCertificate: Sendable, Hashable {
    /// The serial's unsigned big-endian magnitude, as `Certificate.SerialNumber.bytes` holds it.
    public let serial: [UInt8]
    public let revoked: Timestamp
    public let reason: RevocationReason
    public init(serial: [UInt8], revoked: Timestamp, reason: RevocationReason) {
        self.serial = serial; self.revoked = revoked; self.reason = reason
    }
}

/// Builds a signed X.509 v2 CRL (RFC 5280 §5).
///
/// swift-certificates parses and builds certificates, CSRs and OCSP messages but has no
/// CRL type, so the CRL is written here with swift-asn1's DER serializer, from the
/// library's own `DistinguishedName` and `Certificate.Extension` values:
///
/// ```
/// CertificateList ::= SEQUENCE { tbsCertList TBSCertList, signatureAlgorithm AlgorithmIdentifier, signatureValue BIT STRING }
/// TBSCertList ::= SEQUENCE {
///     version Version (v2), signature AlgorithmIdentifier, issuer Name, thisUpdate Time, nextUpdate Time,
///     revokedCertificates SEQUENCE OF SEQUENCE { userCertificate CertificateSerialNumber, revocationDate Time,
///                                                crlEntryExtensions Extensions OPTIONAL } OPTIONAL,
///     crlExtensions [0] EXPLICIT Extensions OPTIONAL }
/// ```
extension CertificateAuthority {
    static let ecdsaWithSHA256: ASN1ObjectIdentifier = [1, 2, 840, 10045, 4, 3, 2]
    static let crlNumberOID: ASN1ObjectIdentifier = [2, 5, 29, 20]
    static let reasonCodeOID: ASN1ObjectIdentifier = [2, 5, 29, 21]

    /// The DER CRL listing `revoked`, numbered `number`, valid from `now` until `nextUpdate`.
    public func revocationList(revoked: [RevokedCertificate], number crlNumber: UInt64, now: Timestamp, nextUpdate: Timestamp) throws -> [UInt8] {
        var tbs = DER.Serializer()
        try tbs.appendConstructedNode(identifier: .sequence) { coder in
            try coder.serialize(1) // v2
            try Self.algorithm(into: &coder)
            try coder.serialize(certificate.subject)
            try Self.time(now, into: &coder)
            try Self.time(nextUpdate, into: &coder)
            if !revoked.isEmpty {
                try coder.appendConstructedNode(identifier: .sequence) { coder in
                    for entry in revoked.sorted(by: { $0.serial.lexicographicallyPrecedes($1.serial) }) {
                        try coder.appendConstructedNode(identifier: .sequence) { coder in
                            coder.appendPrimitiveNode(identifier: .integer) { $0.append(contentsOf: Self.positiveInteger(entry.serial)) }
                            try Self.time(entry.revoked, into: &coder)
                            // RFC 5280 §5.3.1: reasonCode SHOULD be absent for unspecified.
                            if entry.reason != .unspecified {
                                try coder.appendConstructedNode(identifier: .sequence) { coder in
                                    // reasonCode ::= ENUMERATED, DER: 0x0A 0x01 <code>
                                    try coder.serialize(Certificate.Extension(oid: Self.reasonCodeOID, critical: false, value: [0x0A, 0x01, entry.reason.code]))
                                }
                            }
                        }
                    }
                }
            }
            try coder.appendConstructedNode(identifier: ASN1Identifier(tagWithNumber: 0, tagClass: .contextSpecific)) { coder in
                try coder.appendConstructedNode(identifier: .sequence) { coder in
                    var number = DER.Serializer()
                    try number.serialize(Int64(clamping: crlNumber))
                    try coder.serialize(Certificate.Extension(oid: Self.crlNumberOID, critical: false, value: number.serializedBytes[...]))
                    if let ski = try certificate.extensions.subjectKeyIdentifier {
                        try coder.serialize(Certificate.Extension(AuthorityKeyIdentifier(keyIdentifier: ski.keyIdentifier), critical: false))
                    }
                }
            }
        }
        let tbsBytes = tbs.serializedBytes
        let signature = try key.signature(for: tbsBytes).derRepresentation
        var list = DER.Serializer()
        try list.appendConstructedNode(identifier: .sequence) { coder in
            coder.serializeRawBytes(tbsBytes)
            try Self.algorithm(into: &coder)
            try coder.serialize(ASN1BitString(bytes: ArraySlice(signature)))
        }
        return list.serializedBytes
    }


    /// DER INTEGER content for an unsigned magnitude: leading zeros dropped, one 0x00 added
    /// when the top bit is set (else the serial would read as negative and match nothing).
    static func positiveInteger(_ magnitude: [UInt8]) -> [UInt8] {
        let trimmed = Array(magnitude.drop(while: { $0 == 0 }))
        guard let first = trimmed.first else { return [0] }
        return first >= 0x80 ? [0] + trimmed : trimmed
    }

    private static func algorithm(into coder: inout DER.Serializer) throws {
        try coder.appendConstructedNode(identifier: .sequence) { try $0.serialize(ecdsaWithSHA256) }
    }

    /// RFC 5280 §5.1.2.4: UTCTime through 2049, GeneralizedTime after.
    private static func time(_ time: Timestamp, into coder: inout DER.Serializer) throws {
        let c = time.components
        if c.year < 2050 {
            try coder.serialize(try UTCTime(year: c.year, month: c.month, day: c.day, hours: c.hour, minutes: c.minute, seconds: c.second))
        } else {
            try coder.serialize(try GeneralizedTime(year: c.year, month: c.month, day: c.day, hours: c.hour, minutes: c.minute, seconds: c.second, fractionalSeconds: 0))
        }
    }
}
