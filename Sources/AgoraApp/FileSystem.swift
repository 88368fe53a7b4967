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
    }
}
