import AgoraCore
import AgoraPKI
import AgoraTestSupport
import Foundation
import SwiftASN1
import X509

/// OpenSSL as the independent party: it makes the CSRs and judges the results.
struct OpenSSLPeer {
    let dir: TemporaryDirectory

    init() throws { dir = try TemporaryDirectory("agora-pki") }
    func close() { dir.remove() }

    struct Failure: Error, CustomStringConvertible { let description: String }

    @discardableResult
    func openssl(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        try runProcess("/usr/bin/openssl", arguments)
    }

    /// Generates a key (`ec:P-256`, `ed25519`, `rsa:2048`, …) and a CSR with `subject` and optional extensions.
    func request(key: String, subject: String, addext: [String] = [], name: String) throws -> [UInt8] {
        let keyPath = dir.file("\(name).key"), csrPath = dir.file("\(name).csr")
        var args = ["req", "-new", "-nodes", "-keyout", keyPath, "-out", csrPath, "-subj", subject]
        switch key {
        case "ed25519": args += ["-newkey", "ed25519"]
        case let curve where curve.hasPrefix("ec:"): args += ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:\(curve.dropFirst(3))"]
        default: args += ["-newkey", key]
        }
        for ext in addext { args += ["-addext", ext] }
        let result = try openssl(args)
        guard result.status == 0 else { throw Failure(description: "openssl req: \(result.stderr)") }
        return Array(try Data(contentsOf: URL(fileURLWithPath: csrPath)))
    }

    func write(_ certificate: Certificate, as name: String) throws -> String {
        let path = dir.file(name)
        try certificate.serializeAsPEM().pemString.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func writePEM(_ der: [UInt8], discriminator: String, as name: String) throws -> String {
        let path = dir.file(name)
        try PEMDocument(type: discriminator, derBytes: der).pemString.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func der(_ certificate: Certificate) throws -> [UInt8] {
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        return serializer.serializedBytes
    }
}
