#if canImport(Glibc)
import Glibc
#endif

/// Reads a file named on the command line ('-' for stdin), refusing more than `limit`
/// bytes so a wrong path cannot make the CLI read gigabytes.
enum InputFile {
    static func read(_ path: String, limit: Int) throws -> [UInt8] {
        let file = path == "-" ? fdopen(dup(0), "r") : fopen(path, "r")
        guard let file else { throw CLIUsageError(description: "cannot read \(path): \(String(cString: strerror(errno)))") }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while bytes.count <= limit {
            let n = fread(&buffer, 1, buffer.count, file)
            if n == 0 { break }
            bytes.append(contentsOf: buffer[0..<n])
        }
        guard bytes.count <= limit else { throw CLIUsageError(description: "\(path) is larger than \(limit) bytes") }
        return bytes
    }
}
