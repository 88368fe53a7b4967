#if canImport(Glibc)
internal import Glibc
#endif

/// The few file-system calls the composition root needs, as POSIX calls (FoundationEssentials
/// has no `FileManager` permissions API that reports errno).
enum FileSystem {
    /// Removes a file if it is there (nothing when it is not).
    static func remove(_ path: String) { _ = unlink(path) }

    static func exists(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0
    }

    /// Creates `path` (and missing parents) with `mode`; an existing directory is fine.
    static func makeDirectory(_ path: String, mode: mode_t) throws(GatewayError) {
        var info = stat()
        if stat(path, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFDIR else { throw .stateDirectory(path, "exists and is not a directory") }
            return
        }
        let parent = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        if !parent.isEmpty, !exists(parent) { try makeDirectory(parent, mode: 0o755) }
        guard mkdir(path, mode) == 0 || errno == EEXIST else {
            throw .stateDirectory(path, String(cString: strerror(errno)))
        }
        chmod(path, mode) // mkdir applies the umask; the mode asked for is the mode meant
    }
}

extension FileSystem {
    /// Writes `bytes` to `path` (replacing it) with exactly `mode`, fsynced.
    static func write(_ bytes: [UInt8], to path: String, mode: mode_t) throws(GatewayError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode)
        guard fd >= 0 else { throw .file(path, String(cString: strerror(errno))) }
        defer { close(fd) }
        // An existing file keeps its old mode through open(2): set it explicitly.
        guard fchmod(fd, mode) == 0 else { throw .file(path, String(cString: strerror(errno))) }
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, $0.count - written) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw .file(path, String(cString: strerror(errno))) }
            written += n
        }
        guard fsync(fd) == 0 else { throw .file(path, String(cString: strerror(errno))) }
    }
}

extension FileSystem {
    /// The id of a local group, read from /etc/group by hand: the static binary has no NSS.
    static func groupID(named name: String) -> gid_t? {
        guard let file = fopen("/etc/group", "r") else { return nil }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 4096)
        while fgets(&line, Int32(line.count), file) != nil {
            let text = String(decoding: line.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let fields = text.split(separator: ":", omittingEmptySubsequences: false)
            if fields.count >= 3, fields[0] == name, let id = gid_t(fields[2]) { return id }
        }
        return nil
    }

    /// Gives `path` to `group` (when there is one and we may: as root, at install time).
    static func changeGroup(_ path: String, to group: gid_t?) throws(GatewayError) {
        guard let group else { return }
        guard chown(path, uid_t.max, group) == 0 || errno == EPERM else {
            throw .file(path, "cannot change group: \(String(cString: strerror(errno)))")
        }
    }
}

extension FileSystem {
    /// Run as root against a state directory that belongs to someone else (the service user),
    /// gives that owner every file and directory in it that root owns, so the service can still
    /// open them.
    ///
    /// The service user can rename and replace entries while this runs, so nothing is done by
    /// path: each entry is opened relative to its already-open parent with `O_NOFOLLOW`, checked
    /// with `fstat` on that descriptor (root's, a directory or a regular file with one link), and
    /// changed with `fchown` on it. A link swapped in is never followed; a file swapped in is
    /// checked as what it is.
    static func returnCreatedFiles(in stateDirectory: String) throws(GatewayError) {
        guard geteuid() == 0 else { return }
        let top = open(stateDirectory, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard top >= 0 else { return }
        defer { close(top) }
        var owner = stat()
        guard fstat(top, &owner) == 0, owner.st_uid != 0 else { return }
        try returnCreatedFiles(directory: top, path: stateDirectory, to: owner.st_uid, owner.st_gid, depth: 3)
    }

    private static func returnCreatedFiles(directory: Int32, path: String, to uid: uid_t, _ gid: gid_t, depth: Int) throws(GatewayError) {
        // fdopendir takes the descriptor; walk a duplicate so the caller's stays open.
        let listing = dup(directory)
        guard listing >= 0, let handle = fdopendir(listing) else { return }
        defer { closedir(handle) }
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            if name == "." || name == ".." { continue }
            let fd = openat(directory, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)
            guard fd >= 0 else { continue }   // a link (ELOOP), a socket, gone: not ours to touch
            defer { close(fd) }
            var info = stat()
            guard fstat(fd, &info) == 0 else { continue }
            let isDirectory = info.st_mode & S_IFMT == S_IFDIR
            guard isDirectory || (info.st_mode & S_IFMT == S_IFREG && info.st_nlink == 1) else { continue }
            if info.st_uid == 0 {
                guard fchown(fd, uid, gid) == 0 else {
                    throw .file(path + "/" + name, "cannot give it to the state directory's owner: \(String(cString: strerror(errno)))")
                }
            }
            if isDirectory, depth > 1 { try returnCreatedFiles(directory: fd, path: path + "/" + name, to: uid, gid, depth: depth - 1) }
        }
    }
}
