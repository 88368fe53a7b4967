import AgoraCore

/// Machine-readable output: one compact JSON document per line.
enum JSONOutput {
    static func line(_ value: some Encodable) throws -> String {
        String(decoding: try CanonicalJSON.encode(value), as: UTF8.self)
    }
}
