#if canImport(Glibc)
internal import Glibc
#endif

/// The claim one `agora serve` holds on its state directory for as long as it runs.
///
/// Two servers on one store would share LMDB safely, but both would connect to the broker
/// with the same client id and take the session from each other every second, and both
/// would seal checkpoints. So `serve` takes an exclusive `flock(2)` on `<state>/serve.lock`
/// before it starts anything, and a second one is refused at once, naming the first's pid.
/// The kernel drops the lock when the process exits, however it exits, so a crash never
/// leaves a stale lock behind (the file stays; only the lock matters). Other commands
/// (`agora user add`, `agora status`, …) do not take it: they are meant to run beside `serve`.
final class ServeLock {
    private let descriptor: Int32

    /// - Throws: `GatewayError` naming the directory and, when it is known, the pid that holds it.
    init(stateDirectory: String) throws(GatewayError) {
        let path = stateDirectory + "/serve.lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw .file(path, String(cString: strerror(errno))) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let reason = errno
            let holder = Self.readPID(fd)
            close(fd)
            guard reason == EWOULDBLOCK else { throw .file(path, "cannot lock: \(String(cString: strerror(reason)))") }
            throw .stateDirectory(stateDirectory, "another agora serve is running on it\(holder.map { " (pid \($0))" } ?? ""); stop it first")
        }
        descriptor = fd
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
    }

    deinit { close(descriptor) }

    private static func readPID(_ fd: Int32) -> Int? {
        var buffer = [UInt8](repeating: 0, count: 16)
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return nil }
        return Int(String(decoding: buffer[0..<n], as: UTF8.self).split(separator: "\n").first ?? "")
    }
}
