internal import CMosquitto

/// A libmosquitto failure, with libmosquitto's own explanation.
public struct MQTTError: Error, Hashable, Sendable, CustomStringConvertible {
    public let code: Int32
    public let operation: String

    public var description: String {
        let message = mosquitto_strerror(code).map { String(cString: $0) } ?? "error \(code)"
        return "MQTT \(operation) failed: \(message)"
    }

    static func check(_ code: Int32, _ operation: @autoclosure () -> String) throws(MQTTError) {
        guard code == MOSQ_ERR_SUCCESS.rawValue else { throw MQTTError(code: code, operation: operation()) }
    }
}
