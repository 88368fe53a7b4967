#if canImport(Glibc)
internal import Glibc
#endif

/// The few file-system calls the composition root needs, as POSIX calls (FoundationEssentials
/// has no `FileManager` permissions API that reports errno).
enum FileSystem {
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
    /// open them. Only entries owned by us, never through a link (`lchown`, `lstat`), and never
    /// a file with a second hard link: nothing the service user planted can redirect the change.
    static func returnCreatedFiles(in stateDirectory: String) throws(GatewayError) {
        var owner = stat()
        guard geteuid() == 0, stat(stateDirectory, &owner) == 0, owner.st_uid != 0 else { return }
        try returnCreatedFiles(in: stateDirectory, to: owner.st_uid, owner.st_gid, depth: 3)
    }

    private static func returnCreatedFiles(in directory: String, to uid: uid_t, _ gid: gid_t, depth: Int) throws(GatewayError) {
        guard depth > 0, let handle = opendir(directory) else { return }
        defer { closedir(handle) }
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            if name == "." || name == ".." { continue }
            let path = directory + "/" + name
            var info = stat()
            guard lstat(path, &info) == 0, info.st_uid == 0 else { continue }
            let isDirectory = info.st_mode & S_IFMT == S_IFDIR
            guard isDirectory || (info.st_mode & S_IFMT == S_IFREG && info.st_nlink == 1) else { continue }
            guard lchown(path, uid, gid) == 0 else {
                throw .file(path, "cannot give it to the state directory's owner: \(String(cString: strerror(errno)))")
            }
            if isDirectory { try returnCreatedFiles(in: path, to: uid, gid, depth: depth - 1) }
        }
    }
}
