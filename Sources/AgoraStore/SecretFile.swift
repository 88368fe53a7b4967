#if canImport(Glibc)
internal import Glibc
#endif

/// Reads and creates small files that hold secrets (the key-encryption key).
///
/// POSIX calls on one file descriptor, so the permission check and the read see the
/// same file (no check-then-open race), and creation is exclusive with mode 0600 from
/// the first byte.
enum SecretFile {
    /// Reads up to `maxSize` bytes, refusing a file that its group or others may read.
    static func read(path: String, maxSize: Int) throws(KeyStoreError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else {
            throw errno == ENOENT ? .kekMissing(path: path) : .kekUnreadable(path: path, reason: String(cString: strerror(errno)))
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw .kekUnreadable(path: path, reason: String(cString: strerror(errno)))
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw .kekUnreadable(path: path, reason: "not a regular file")
        }
        guard info.st_mode & 0o077 == 0 else {
            throw .kekPermissions(path: path, mode: info.st_mode & 0o777)
        }
        guard info.st_size <= maxSize else {
            throw .kekUnreadable(path: path, reason: "larger than \(maxSize) bytes")
        }
        var bytes = [UInt8](repeating: 0, count: maxSize + 1)
        var filled = 0
        while filled < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + filled, $0.count - filled) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw .kekUnreadable(path: path, reason: String(cString: strerror(errno))) }
            if n == 0 { break }
            filled += n
        }
        return Array(bytes[0..<filled])
    }

    /// Creates `path` with mode 0600 and writes `bytes`, fsynced; fails if it exists.
    static func create(path: String, bytes: [UInt8]) throws(KeyStoreError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else {
            throw .kekUnreadable(path: path, reason: "cannot create: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, $0.count - written) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                unlink(path)
                throw .kekUnreadable(path: path, reason: "cannot write: \(String(cString: strerror(errno)))")
            }
            written += n
        }
        guard fsync(fd) == 0 else {
            throw .kekUnreadable(path: path, reason: "cannot sync: \(String(cString: strerror(errno)))")
        }
    }
}
