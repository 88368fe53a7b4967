/// What an account may do. Operators administer the gateway, owners sell their sensors'
/// data, consumers buy it. Roles only widen: an operator may also own sensors and buy.
public enum Role: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    case `operator`
    case owner
    case consumer

    public init(parsing text: String) throws(InvalidInput) {
        guard let role = Role(rawValue: text.lowercased()) else {
            throw .malformed("role", text, reason: "expected operator, owner or consumer")
        }
        self = role
    }

    public var description: String { rawValue }

    /// Whether this role may own sensors.
    public var mayOwnSensors: Bool { self != .consumer }
}
