/// A parsed configuration file: `[section]` headers and `key = value` lines, the subset
/// of TOML that Agora's configuration uses (strings, integers, booleans, `#` comments).
///
/// Written by hand because every TOML and YAML library available here (TOMLKit, Yams)
/// imports Foundation, which would pull ICU and ~30 MB into the static binary that
/// DESIGN.md keeps small. The subset is strict: anything else is an error naming the line.
public struct ConfigFile: Sendable, Equatable {
    public enum Value: Sendable, Equatable, CustomStringConvertible {
        case string(String)
        case integer(Int64)
        case boolean(Bool)

        public var description: String {
            switch self {
            case .string(let s): "\"\(s)\""
            case .integer(let i): String(i)
            case .boolean(let b): String(b)
            }
        }
    }

    /// `section.key` → value.
    public private(set) var values: [String: Value] = [:]

    public static let maxSize = 256 * 1024

    public init(values: [String: Value] = [:]) { self.values = values }

    public init(parsing text: String, name: String) throws(ConfigurationError) {
        guard text.utf8.count <= Self.maxSize else { throw .file(name, line: 0, "larger than \(Self.maxSize) bytes") }
        var section = ""
        // Split on LF bytes: Swift treats "\r\n" as one Character, so splitting on "\n" would
        // leave a CRLF file as one line. A trailing CR is trimmed with the other whitespace.
        let lines = text.utf8.split(separator: 0x0A, omittingEmptySubsequences: false).map { Substring(String(decoding: $0, as: UTF8.self)) }
        for (offset, rawLine) in lines.enumerated() {
            let lineNumber = offset + 1
            let line = Self.stripComment(rawLine).trimmed
            if line.isEmpty { continue }
            if line.hasPrefix("[") {
                guard line.hasSuffix("]"), line.count > 2 else { throw .file(name, line: lineNumber, "malformed section header") }
                section = String(line.dropFirst().dropLast()).trimmed
                guard section.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
                    throw .file(name, line: lineNumber, "section names use letters, digits and '_'")
                }
                continue
            }
            guard let equals = line.firstIndex(of: "=") else { throw .file(name, line: lineNumber, "expected key = value") }
            let key = String(line[..<equals]).trimmed
            let rawValue = String(line[line.index(after: equals)...]).trimmed
            guard !key.isEmpty, key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
                throw .file(name, line: lineNumber, "keys use letters, digits and '_'")
            }
            let fullKey = section.isEmpty ? key : "\(section).\(key)"
            guard values[fullKey] == nil else { throw .file(name, line: lineNumber, "\(fullKey) is set twice") }
            values[fullKey] = try Self.parseValue(rawValue, name: name, line: lineNumber)
        }
    }

    static func parseValue(_ text: String, name: String, line: Int) throws(ConfigurationError) -> Value {
        if text == "true" { return .boolean(true) }
        if text == "false" { return .boolean(false) }
        if text.hasPrefix("\"") {
            guard text.count >= 2, text.hasSuffix("\"") else { throw .file(name, line: line, "unterminated string") }
            var result = ""
            var escaped = false
            for ch in text.dropFirst().dropLast() {
                if escaped {
                    switch ch {
                    case "\\": result.append("\\")
                    case "\"": result.append("\"")
                    case "n": result.append("\n")
                    case "t": result.append("\t")
                    default: throw .file(name, line: line, "unknown escape \\\(ch)")
                    }
                    escaped = false
                } else if ch == "\\" {
                    escaped = true
                } else if ch == "\"" {
                    throw .file(name, line: line, "unescaped quote inside a string")
                } else {
                    result.append(ch)
                }
            }
            guard !escaped else { throw .file(name, line: line, "string ends in a backslash") }
            return .string(result)
        }
        let digits = text.replacingUnderscores
        if let number = Int64(digits) { return .integer(number) }
        throw .file(name, line: line, "expected a \"string\", an integer, true or false")
    }

    /// Drops a `#` comment that is not inside a string.
    static func stripComment(_ line: Substring) -> Substring {
        var inString = false
        var escaped = false
        for index in line.indices {
            let ch = line[index]
            if escaped { escaped = false; continue }
            if ch == "\\" && inString { escaped = true; continue }
            if ch == "\"" { inString.toggle() }
            if ch == "#" && !inString { return line[..<index] }
        }
        return line
    }
}

extension StringProtocol {
    var trimmed: String {
        String(self.drop(while: { $0 == " " || $0 == "\t" || $0 == "\r" }).reversed().drop(while: { $0 == " " || $0 == "\t" || $0 == "\r" }).reversed())
    }

    var replacingUnderscores: String { String(self.filter { $0 != "_" }) }
}
