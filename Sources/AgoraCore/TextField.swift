/// Free text that goes into ledger entries (names, memos, reasons, kinds, units, URLs).
///
/// Bounded in length and free of control characters, so an entry can be shown on a
/// terminal and its size stays predictable.
public enum TextField {
    public static func validate(_ text: String, field: String, maxBytes: Int, allowEmpty: Bool = true) throws(InvalidInput) -> String {
        guard allowEmpty || !text.isEmpty else {
            throw .malformed(field, text, reason: "must not be empty")
        }
        guard text.utf8.count <= maxBytes else {
            throw .outOfRange(field, reason: "at most \(maxBytes) bytes")
        }
        guard text.unicodeScalars.allSatisfy({ $0.value >= 0x20 && !(0x7F...0x9F).contains($0.value) }) else {
            throw .malformed(field, text, reason: "control characters are not allowed")
        }
        return text
    }

    /// An `http` or `https` URL with a host, or empty.
    public static func validateURL(_ text: String) throws(InvalidInput) -> String {
        let url = try validate(text, field: "url", maxBytes: 512)
        guard url.isEmpty || ((url.hasPrefix("https://") || url.hasPrefix("http://")) && !url.contains(" ")) else {
            throw .malformed("url", text, reason: "expected an http:// or https:// URL")
        }
        return url
    }
}
