/// Who caused a ledger entry: the gateway's own CLI operator, an account, a sensor, or
/// the gateway itself (genesis, readings commitments).
///
/// Written in entries as `operator`, `gateway`, a bare JID, or `sensor:<id>`.
public enum LedgerActor: Hashable, Sendable, CustomStringConvertible, TextCodable {
    /// Someone with shell access on the gateway, acting through the `agora` CLI.
    case `operator`
    /// The gateway itself.
    case gateway
    case account(BareJID)
    case sensor(SensorID)

    public init(parsing text: String) throws(InvalidInput) {
        switch text {
        case "operator": self = .operator
        case "gateway": self = .gateway
        default:
            if text.hasPrefix("sensor:") {
                self = .sensor(try SensorID(String(text.dropFirst("sensor:".count))))
            } else {
                self = .account(try BareJID(text))
            }
        }
    }

    public var description: String {
        switch self {
        case .operator: "operator"
        case .gateway: "gateway"
        case .account(let jid): jid.description
        case .sensor(let id): "sensor:\(id)"
        }
    }

    public init(validating text: String) throws(InvalidInput) { try self.init(parsing: text) }
    public var text: String { description }
}
