internal import AgoraMQTT
#if canImport(Glibc)
internal import Glibc
#endif

/// Why a device's broker connection failed, told apart from what libmosquitto reports.
///
/// libmosquitto's result codes are coarse ("A TLS error occurred", "The connection was
/// lost"); the reason is in the error lines it logs just before (`onErrorLog`), OpenSSL's
/// among them. What each case looks like, against Mosquitto 2.0.11 and OpenSSL 3.0:
///
/// - A device without a certificate on the *certificate* listener: the TLS 1.3 handshake
///   completes on the client's side before the server has looked at the (empty) client
///   certificate, so the connect succeeds and CONNECT goes out; the next read fails, the
///   result is only `MOSQ_ERR_CONN_LOST` ("The connection was lost", errno EPROTO), and the
///   line before it says why: `OpenSSL Error[0]: error:0A00045C:SSL routines::tlsv13 alert
///   certificate required`. (Over TLS 1.2 the server's alert is a plain handshake failure.)
/// - A broker certificate from another CA: `…::certificate verify failed`, result
///   `MOSQ_ERR_TLS`; one that does not name the host adds `Error: host name verification failed.`
/// - Nothing listening: `MOSQ_ERR_ERRNO` with `errno` ECONNREFUSED, and no log line.
struct BrokerFailure {
    /// Which listener the device means to use, for what a refusal means.
    enum Listener: Sendable { case pairing, certificate }

    var result: Int32
    /// `errno` right after the failing call, on the network thread.
    var systemError: Int32
    /// libmosquitto's error lines since the attempt began, oldest first.
    var errorLines: [String]

    func error(listener: Listener, address: BrokerAddress, caFile: String) -> DeviceError {
        let openSSL = errorLines.last { $0.contains("OpenSSL Error") }.map(Self.reason(ofOpenSSLLine:))
        if let openSSL, openSSL.contains("certificate required") || openSSL.contains("alert handshake failure") {
            return listener == .pairing ? .certificateListener(address) : .certificateRejected(address, openSSL)
        }
        if let openSSL, listener == .certificate, openSSL.contains("alert certificate") || openSSL.contains("alert bad certificate") {
            return .certificateRejected(address, openSSL)
        }
        if errorLines.contains(where: { $0.contains("host name verification failed") }) {
            return .tls(address, "the broker's certificate does not name \(address.host); use a host name it carries")
        }
        if let openSSL, openSSL.contains("certificate verify failed") {
            return .tls(address, "the broker's certificate does not chain to \(caFile)")
        }
        if let openSSL { return .tls(address, openSSL) }
        switch result {
        case MQTTError.tlsFailure:
            return .tls(address, Self.words(result))
        case MQTTError.systemCallFailed where systemError == ECONNREFUSED:
            return .connectionRefused(address)
        case MQTTError.systemCallFailed:
            return .unreachable(address, String(cString: strerror(systemError)))
        case MQTTError.lookupFailed:
            return .unreachable(address, "\(address.host) does not resolve")
        default:
            return .connectionFailed(address, Self.words(result))
        }
    }

    /// libmosquitto's sentence for `result` without its full stop, to go inside another.
    static func words(_ result: Int32) -> String {
        let text = MQTTError.text(result)
        return text.hasSuffix(".") ? String(text.dropLast()) : text
    }

    /// "OpenSSL Error[0]: error:0A00045C:SSL routines::tlsv13 alert certificate required"
    /// → "tlsv13 alert certificate required".
    static func reason(ofOpenSSLLine line: String) -> String {
        line.split(separator: ":").last.map { String($0.drop { $0 == " " }) } ?? line
    }
}
