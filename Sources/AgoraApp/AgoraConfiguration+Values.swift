/// Typed values of configuration keys, each refusal naming the key and where it came from
/// (the file and line, or the environment variable).
extension AgoraConfiguration {
    static func string(_ value: ConfigFile.Value, _ key: String, _ source: String, nonEmpty: Bool) throws(ConfigurationError) -> String {
        let text: String
        switch value {
        case .string(let s): text = s
        case .integer(let i): text = String(i)
        case .boolean: throw .key(key, source: source, "expected a string")
        }
        guard !nonEmpty || !text.isEmpty else { throw .key(key, source: source, "must not be empty") }
        return text
    }

    /// A comma-separated list, each item trimmed, empty items dropped.
    static func list(_ value: ConfigFile.Value, _ key: String, _ source: String) throws(ConfigurationError) -> [String] {
        try string(value, key, source, nonEmpty: false).split(separator: ",")
            .map { String($0.drop(while: { $0 == " " || $0 == "\n" }).reversed().drop(while: { $0 == " " || $0 == "\n" }).reversed()) }
            .filter { !$0.isEmpty }
    }

    static func boolean(_ value: ConfigFile.Value, _ key: String, _ source: String) throws(ConfigurationError) -> Bool {
        switch value {
        case .boolean(let flag): return flag
        case .string("true"), .integer(1): return true
        case .string("false"), .integer(0): return false
        default: throw .key(key, source: source, "expected true or false")
        }
    }

    static func integer(_ value: ConfigFile.Value, _ key: String, _ source: String, min: Int, max: Int = Int.max) throws(ConfigurationError) -> Int {
        guard case .integer(let raw) = value, let number = Int(exactly: raw) else {
            throw .key(key, source: source, "expected an integer")
        }
        guard number >= min, number <= max else { throw .key(key, source: source, "must be between \(min) and \(max)") }
        return number
    }
}
