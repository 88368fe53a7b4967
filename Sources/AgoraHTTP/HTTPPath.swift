/// Splitting and checking a request target (RFC 9110 §4.1, RFC 3986 §2.1).
///
/// Written here because the request target is the one part of HTTP that SwiftNIO leaves as
/// a string, and no package in reach decodes it without Foundation. The listener serves no
/// files, but a route may still use a path segment as a name, so anything that could climb
/// out of a tree (`..`, `.`, backslashes, control bytes, encoded slashes) is refused here.
public enum HTTPPath {
    /// `uri` split into a decoded path and query, or nil when it is not a plain origin-form
    /// target we accept.
    public static func parse(_ uri: String) -> (path: String, query: [(String, String)])? {
        let bytes = Array(uri.utf8)
        guard bytes.first == UInt8(ascii: "/") else { return nil }
        let queryStart = bytes.firstIndex(of: UInt8(ascii: "?"))
        let rawPath = bytes[..<(queryStart ?? bytes.endIndex)]
        guard let decoded = percentDecode(rawPath, plusIsSpace: false), !decoded.contains(0) else { return nil }
        // An encoded slash would let one segment look like two to whoever splits it later.
        guard !rawPath.containsSubsequence(Array("%2f".utf8)), !rawPath.containsSubsequence(Array("%2F".utf8)) else { return nil }
        guard decoded.allSatisfy({ $0 >= 0x20 && $0 != 0x7F && $0 != UInt8(ascii: "\\") }) else { return nil }
        for segment in decoded.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).dropFirst() {
            if segment.elementsEqual([UInt8(ascii: ".")]) || segment.elementsEqual([UInt8(ascii: "."), UInt8(ascii: ".")]) { return nil }
        }
        guard let path = String(validating: decoded, as: UTF8.self) else { return nil }
        let query = queryStart.map { decodePairs(bytes[($0 + 1)...]) } ?? []
        return (path, query)
    }

    /// `a=1&b=two` as pairs; a pair that does not decode is left out.
    public static func decodePairs(_ bytes: ArraySlice<UInt8>) -> [(String, String)] {
        bytes.split(separator: UInt8(ascii: "&")).compactMap { pair in
            let parts = pair.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = percentDecode(parts[0], plusIsSpace: true).flatMap({ String(validating: $0, as: UTF8.self) }),
                  let value = percentDecode(parts.count > 1 ? parts[1] : [], plusIsSpace: true).flatMap({ String(validating: $0, as: UTF8.self) })
            else { return nil }
            return (name, value)
        }
    }

    static func percentDecode(_ bytes: ArraySlice<UInt8>, plusIsSpace: Bool) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte == UInt8(ascii: "%") {
                guard index + 2 < bytes.endIndex, let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2]) else { return nil }
                out.append(high << 4 | low)
                index += 3
            } else {
                out.append(plusIsSpace && byte == UInt8(ascii: "+") ? UInt8(ascii: " ") : byte)
                index += 1
            }
        }
        return out
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

private extension ArraySlice<UInt8> {
    func containsSubsequence(_ needle: [UInt8]) -> Bool {
        guard count >= needle.count else { return false }
        var index = startIndex
        while index + needle.count <= endIndex {
            if self[index..<(index + needle.count)].elementsEqual(needle) { return true }
            index += 1
        }
        return false
    }
}
