internal import AgoraCore
internal import Crypto

/// Server Dialback keys as XEP-0185 §3 makes them:
/// `HMAC-SHA256(SHA256(secret), receiving ␠ originating ␠ stream-id)`, in lower-case hex,
/// with the hash of the secret in hex as the HMAC key, as XEP-0185's example shows it and
/// Prosody computes it. Only the server that made a key can verify it, so a peer that
/// presents one proves it can receive traffic for the domain the key names (XEP-0220 §1).
struct DialbackKey: Sendable {
    private let key: SymmetricKey

    init(secret: [UInt8]) {
        key = SymmetricKey(data: Array(Hex.encode(SHA256.hash(data: secret)).utf8))
    }

    /// The key for a stream `streamID` from `originating` (this server) to `receiving`.
    func make(receiving: String, originating: String, streamID: String) -> String {
        Hex.encode(HMAC<SHA256>.authenticationCode(for: Array("\(receiving) \(originating) \(streamID)".utf8), using: key))
    }

    /// Whether `candidate` is the key this server made for that stream, in constant time.
    func verify(_ candidate: String, receiving: String, originating: String, streamID: String) -> Bool {
        constantTimeEqual(Array(make(receiving: receiving, originating: originating, streamID: streamID).utf8), Array(candidate.lowercased().utf8))
    }
}
