public import AgoraCore

/// Why the market refused a change. Nothing was written when one of these comes back.
///
/// Equality is by code, so tests and protocol mappings (XMPP conditions, CLI exit codes)
/// switch on the kind while people read `description`.
public struct MarketRefusal: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: String, Hashable, Sendable {
        case invalidInput, unknownAccount, accountExists, forbidden, insufficientCredits,
             unknownSensor, sensorExists, sensorFrozen, sensorNotFrozen, invalidWindow,
             amountTooLarge, priceAboveLimit, requestConflict, nothingToChange, certificateHeld
    }

    public let code: Code
    public let description: String

    init(_ code: Code, _ description: String) {
        self.code = code
        self.description = description
    }

    public static func invalid(_ error: InvalidInput) -> MarketRefusal { .init(.invalidInput, error.description) }
    public static func unknownAccount(_ jid: BareJID) -> MarketRefusal { .init(.unknownAccount, "no account \(jid)") }
    /// Said alike of an unknown account and of one that sells nothing, so it is no account directory.
    public static func sellsNothing(_ jid: BareJID) -> MarketRefusal { .init(.unknownAccount, "\(jid) sells no sensor on this gateway") }
    public static func accountExists(_ jid: BareJID) -> MarketRefusal { .init(.accountExists, "account \(jid) already exists") }
    public static func forbidden(_ why: String) -> MarketRefusal { .init(.forbidden, why) }
    public static func insufficientCredits(_ jid: BareJID, balance: Credits, needed: Credits) -> MarketRefusal {
        .init(.insufficientCredits, "\(jid) has \(balance) credits, \(needed) needed")
    }
    public static func unknownSensor(_ id: SensorID) -> MarketRefusal { .init(.unknownSensor, "no sensor \(id)") }
    public static func sensorExists(_ id: SensorID) -> MarketRefusal { .init(.sensorExists, "sensor \(id) is already registered") }
    public static func sensorFrozen(_ id: SensorID) -> MarketRefusal { .init(.sensorFrozen, "sensor \(id) is frozen") }
    public static func sensorNotFrozen(_ id: SensorID) -> MarketRefusal { .init(.sensorNotFrozen, "sensor \(id) is not frozen") }
    public static func invalidWindow(_ why: String) -> MarketRefusal { .init(.invalidWindow, why) }
    public static func amountTooLarge(_ why: String) -> MarketRefusal { .init(.amountTooLarge, why) }
    public static func priceAboveLimit(_ sensor: SensorID, costs: Credits, limit: Credits) -> MarketRefusal {
        .init(.priceAboveLimit, "the window of \(sensor) costs \(costs) credits at its current price, more than the \(limit) the buyer accepts")
    }
    public static func requestConflict(_ request: String) -> MarketRefusal {
        .init(.requestConflict, "request id \(request) was already used for a different purchase")
    }
    public static func certificateHeld(_ subject: String, serial: String) -> MarketRefusal {
        .init(.certificateHeld, "\(subject) already holds a valid certificate (serial \(serial)); this gateway issues one at a time")
    }
    public static func nothingToChange(_ why: String) -> MarketRefusal { .init(.nothingToChange, why) }

    public static func == (lhs: MarketRefusal, rhs: MarketRefusal) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}
