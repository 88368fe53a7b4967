import AgoraStore
import Foundation
import Logging

/// A fresh directory under the system temporary directory, removed by `remove()`.
public struct TemporaryDirectory: Sendable {
    public let path: String

    public init(_ label: String = "agora-test") throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        path = url.path
    }

    /// Removes the directory. When `AGORA_TEST_LOG_ARCHIVE` names a directory, every `*.log`
    /// under this one is first copied there, so the test command can scan the logs of the
    /// whole run for secrets (`Tests/Reliability/scan_logs.py`).
    public func remove() {
        if let archive = ProcessInfo.processInfo.environment["AGORA_TEST_LOG_ARCHIVE"], !archive.isEmpty,
           let files = FileManager.default.enumerator(atPath: path) {
            let target = archive + "/" + URL(fileURLWithPath: path).lastPathComponent
            for case let file as String in files where file.hasSuffix(".log") {
                let destination = target + "/" + file.replacingOccurrences(of: "/", with: "_")
                try? FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
                try? FileManager.default.copyItem(atPath: path + "/" + file, toPath: destination)
            }
        }
        try? FileManager.default.removeItem(atPath: path)
    }

    public func file(_ name: String) -> String { path + "/" + name }
}

/// Quiet loggers for tests: warnings and errors only.
public func testLogger(_ label: String = "agora.test") -> Logger {
    var logger = Logger(label: label)
    logger.logLevel = .warning
    return logger
}

/// A store in a temporary directory with a writer that does not linger (tests commit often).
public func makeTestStore(in directory: TemporaryDirectory, mapSize: Int = 64 << 20, maxMapSize: Int = 1 << 30,
                          window: Duration = .zero) throws -> Store {
    try Store(path: directory.file("agora.mdb"),
              options: .init(mapSize: mapSize, maxMapSize: maxMapSize),
              writerOptions: .init(maxBatch: 512, window: window, quietGap: .zero),
              logger: testLogger())
}

/// Runs a process to completion and returns its exit status, stdout and stderr.
public func runProcess(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                       stdin: String? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment {
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
    }
    let out = Pipe(), err = Pipe(), input = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = input
    try process.run()
    if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
    try input.fileHandleForWriting.close()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
}

/// The directory of the running test binary, where SwiftPM also puts the `agora` executable.
public var buildProductsDirectory: String {
    URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().path
}

public var agoraExecutable: String {
    ProcessInfo.processInfo.environment["AGORA_BIN"] ?? buildProductsDirectory + "/agora"
}
