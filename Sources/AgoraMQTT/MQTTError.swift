internal import CMosquitto

/// A libmosquitto failure, with libmosquitto's own explanation.
public struct MQTTError: Error, Hashable, Sendable, CustomStringConvertible {
    public let code: Int32
    public let operation: String

    public var description: String {
        "MQTT \(operation) failed: \(Self.text(code))"
    }

    /// libmosquitto's words for a result code (`mosquitto_strerror`), e.g. "A TLS error occurred.".
    public static func text(_ code: Int32) -> String {
        mosquitto_strerror(code).map { String(cString: $0) } ?? "error \(code)"
    }

    /// The words for a CONNACK return code (`mosquitto_connack_string`), e.g. "Connection Refused: not authorised.".
    public static func connackText(_ code: Int32) -> String {
        mosquitto_connack_string(code).map { String(cString: $0) } ?? "return code \(code)"
    }

    /// libmosquitto's result for every TLS failure (`MOSQ_ERR_TLS`).
    public static let tlsFailure = MOSQ_ERR_TLS.rawValue
    /// A system call failed (`MOSQ_ERR_ERRNO`): `errno`, read at once on the same thread, says
    /// which (e.g. ECONNREFUSED when nothing listens on the port).
    public static let systemCallFailed = MOSQ_ERR_ERRNO.rawValue
    /// The host name did not resolve (`MOSQ_ERR_EAI`).
    public static let lookupFailed = MOSQ_ERR_EAI.rawValue
    /// No connection to send on (`MOSQ_ERR_NO_CONN`): `publish` or `subscribe` while the
    /// network thread reconnects.
    public static let notConnected = MOSQ_ERR_NO_CONN.rawValue

    static func check(_ code: Int32, _ operation: @autoclosure () -> String) throws(MQTTError) {
        guard code == MOSQ_ERR_SUCCESS.rawValue else { throw MQTTError(code: code, operation: operation()) }
    }
}
