internal import AgoraCore
internal import AgoraMarket
internal import Crypto
internal import FoundationEssentials
internal import SwiftASN1
internal import X509

/// What a sensor sends on `<prefix>/pair/<id>/request` (DESIGN.md "MQTT: pairing and
/// ingestion"): a CSR for `CN=<id>` over a fresh P-256 key, and the proof that it holds the
/// one-time code — HMAC-SHA256 over the CSR's DER, keyed with `PairingInvitation.proofKey`.
/// The code itself never travels, and the key never leaves the device.
struct PairingRequest {
    let key: P256.Signing.PrivateKey
    let csrPEM: String
    let proof: [UInt8]

    /// - Parameter code: as the operator typed it; normalised as `PairingInvitation`
    ///   normalises it, so lower case and missing dashes prove the same code.
    init(sensor: SensorID, code typed: String) throws(DeviceError) {
        guard let code = PairingInvitation.normalizedCode(typed) else { throw .notACode }
        key = P256.Signing.PrivateKey()
        do {
            let csr = try CertificateSigningRequest(version: .v1, subject: try DistinguishedName { CommonName(sensor.rawValue) },
                                                    privateKey: Certificate.PrivateKey(key), attributes: .init())
            var serializer = DER.Serializer()
            try serializer.serialize(csr)
            let der = serializer.serializedBytes
            csrPEM = PEMDocument(type: "CERTIFICATE REQUEST", derBytes: der).pemString
            proof = Array(HMAC<SHA256>.authenticationCode(for: der, using: SymmetricKey(data: PairingInvitation.proofKey(code: code))))
        } catch {
            throw .encoding("the certificate request", error)
        }
    }

    /// `{"csr": PEM, "proof": base64}`, in the canonical JSON the gateway decodes.
    func payload() throws(DeviceError) -> [UInt8] {
        struct Body: Encodable { var csr: String, proof: String }
        do { return try CanonicalJSON.encode(Body(csr: csrPEM, proof: Data(proof).base64EncodedString())) } catch {
            throw .encoding("the pairing request", error)
        }
    }

    /// The private key as PKCS#8 PEM (what OpenSSL and libmosquitto read).
    func keyPEM() throws(DeviceError) -> String {
        do { return try Certificate.PrivateKey(key).serializeAsPEM().pemString } catch {
            throw .encoding("the private key", error)
        }
    }

    /// Whether `certificate` certifies this request's key (and so is this device's).
    func isCertified(by certificate: Certificate) -> Bool {
        certificate.publicKey == Certificate.PublicKey(key.publicKey)
    }
}
