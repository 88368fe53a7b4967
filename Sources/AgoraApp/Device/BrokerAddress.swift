/// Where a device reaches the broker: `HOST:PORT` as typed after `--broker` (an IPv6
/// address in brackets, `[::1]:8884`). The port is required: the broker has two listeners
/// and a device must say which one it means.
public struct BrokerAddress: Sendable, Hashable, CustomStringConvertible {
    public let host: String
    public let port: Int

    public init(parsing text: String) throws(DeviceError) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port) else {
            throw .invalidAddress(text)
        }
        var host = Substring(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        guard !host.isEmpty, !host.contains(where: { $0 == "[" || $0 == "]" || $0 == " " || $0 == "/" }) else { throw .invalidAddress(text) }
        self.host = String(host)
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
