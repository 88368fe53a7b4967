public import NIOHTTP1

/// One response. Security headers every answer carries are added by the server
/// (`HTTPResponseEncoder`), so a route cannot forget them.
public struct HTTPResponse: Sendable {
    public var status: HTTPResponseStatus
    public var headers: HTTPHeaders
    public var body: [UInt8]

    public init(status: HTTPResponseStatus, headers: HTTPHeaders = [:], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public static func text(_ status: HTTPResponseStatus, _ text: String, contentType: String = "text/plain; charset=utf-8") -> HTTPResponse {
        HTTPResponse(status: status, headers: ["content-type": contentType], body: Array(text.utf8))
    }

    public static func bytes(_ status: HTTPResponseStatus, _ body: [UInt8], contentType: String) -> HTTPResponse {
        HTTPResponse(status: status, headers: ["content-type": contentType], body: body)
    }

    public static func html(_ status: HTTPResponseStatus, _ page: String) -> HTTPResponse {
        text(status, page, contentType: "text/html; charset=utf-8")
    }

    public static func json(_ status: HTTPResponseStatus, _ body: [UInt8]) -> HTTPResponse {
        bytes(status, body, contentType: "application/json")
    }

    /// 303 See Other to `location` (what a form POST answers with).
    public static func redirect(to location: String, headers extra: HTTPHeaders = [:]) -> HTTPResponse {
        var headers = extra
        headers.replaceOrAdd(name: "location", value: location)
        return HTTPResponse(status: .seeOther, headers: headers)
    }
}

/// What answers requests: the routes of `agora serve` (AgoraApp). Called from async code,
/// never on an event loop, so a route may read the store.
public protocol HTTPResponder: Sendable {
    func respond(to request: HTTPRequest) async -> HTTPResponse
}
