internal import AgoraMQTT
internal import NIOPosix
#if canImport(Glibc)
internal import Glibc
#endif

/// The lines of a file, or of standard input (`-`), for `agora device publish --senml`: one
/// SenML JSON pack a line, as a sensor's firmware or a script would stream them.
///
/// Reads happen on NIO's blocking-I/O thread pool, never on the caller's (standard input may
/// stay silent for hours), and each waits at most 200 ms in `poll` so that a cancelled
/// publisher stops reading promptly. Owns its file descriptor and closes it in `deinit`; one
/// task reads it.
final class SenMLLineReader {
    private let descriptor: Int32
    private let name: String
    private var buffer: [UInt8] = []
    private var atEnd = false
    /// Lines counted from 1, for messages about them.
    private(set) var lineNumber = 0

    /// A line longer than this is not a pack the gateway would take (`SenMLPack.maxSize`).
    static let maxLine = SenMLPack.maxSize

    init(path: String) throws(DeviceError) {
        descriptor = path == "-" ? dup(0) : open(path, O_RDONLY | O_CLOEXEC)
        name = path == "-" ? "standard input" : path
        guard descriptor >= 0 else { throw .file(name, String(cString: strerror(errno))) }
    }

    deinit { close(descriptor) }

    /// The next non-empty line without its newline, or nil at the end of the input. Throws
    /// `CancellationError` when the task is cancelled while waiting for input.
    func next() async throws -> [UInt8]? {
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = Array(buffer[..<newline])
                buffer.removeSubrange(...newline)
                lineNumber += 1
                if line.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\r") || $0 == UInt8(ascii: "\t") }) { continue }
                return line
            }
            if atEnd {
                guard !buffer.isEmpty else { return nil }
                buffer.append(UInt8(ascii: "\n")) // a last line without its newline
                continue
            }
            guard buffer.count <= Self.maxLine else {
                throw DeviceError.file(name, "line \(lineNumber + 1) is longer than \(Self.maxLine) bytes, the largest pack the gateway takes")
            }
            try Task.checkCancellation()
            let descriptor = self.descriptor
            let chunk = try await NIOThreadPool.singleton.runIfActive { () -> ReadResult in
                var ready = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
                guard poll(&ready, 1, 200) > 0 else { return .data([]) }
                var bytes = [UInt8](repeating: 0, count: 65_536)
                let count = read(descriptor, &bytes, bytes.count)
                if count < 0 { return errno == EINTR || errno == EAGAIN ? .data([]) : .failed(errno) }
                return count == 0 ? .end : .data(Array(bytes[..<count]))
            }
            switch chunk {
            case .data(let bytes): buffer += bytes
            case .end: atEnd = true
            case .failed(let code): throw DeviceError.file(name, String(cString: strerror(code)))
            }
        }
    }

    private enum ReadResult: Sendable {
        case data([UInt8])
        case end
        case failed(Int32)
    }
}
