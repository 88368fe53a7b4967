internal import AgoraCore
internal import AgoraHTTP
internal import AgoraXMPP
internal import FoundationEssentials
internal import Logging
internal import NIOHTTP1

/// The HTTP listener's routes in `agora serve`:
///
/// | route | who | what |
/// |---|---|---|
/// | `GET /healthz` | anyone | 200 while the process serves (liveness) |
/// | `GET /readyz` | anyone | 200 when ready, else 503 with the reasons |
/// | `POST /add-checkpoint` | anyone (the log's signature is checked) | C2SP tlog-witness cosignature |
/// | `GET /metrics` | loopback, or the bearer token | Prometheus text format |
/// | `GET /status.json` | loopback, or the bearer token | `LiveStatus` (what `agora status` shows live) |
/// | `GET /`, `/dashboard.js`, `/dashboard.css` | anyone; data only after login | the dashboard |
/// | `POST /login`, `POST /logout` | anyone / a session with its CSRF token | dashboard sessions |
/// | `GET /api/overview` | a session | the dashboard's data (`DashboardOverview`) |
struct GatewayRoutes: HTTPResponder {
    let telemetry: GatewayTelemetry
    let metrics: GatewayMetrics
    let sessions: DashboardSessions
    let login: DashboardLogin
    /// The bearer token for `/metrics` and `/status.json` from beyond loopback.
    let token: [UInt8]
    let domain: String
    /// Host names besides the domain, `localhost` and IP addresses that requests may name
    /// (`http.allowed_hosts`).
    var allowedHosts: Set<String> = []
    /// `POST /add-checkpoint`, when this gateway witnesses other logs (`witness.logs`).
    var witness: WitnessEndpoint?
    let logger: Logger

    func respond(to request: HTTPRequest) async -> HTTPResponse {
        // A page of another site whose name was made to resolve to this gateway (DNS
        // rebinding) names that site in Host: refused, so such a page can read nothing.
        guard hostIsOurs(request) else { return .text(.misdirectedRequest, "this gateway does not answer for that host name\n") }
        switch (request.method, request.path) {
        case (.GET, "/healthz"):
            return .text(.ok, "ok\n")
        case (.POST, "/add-checkpoint"):
            guard let witness else { return .text(.notFound, "this gateway witnesses no logs\n") }
            return await witness.respond(to: request)
        case (.GET, "/readyz"):
            let reasons = telemetry.notReadyReasons
            return reasons.isEmpty ? .text(.ok, "ready\n") : .text(.serviceUnavailable, "not ready: " + reasons.joined(separator: "; ") + "\n")
        case (.GET, "/metrics"):
            guard authorized(request) else { return unauthorized }
            do {
                return .bytes(.ok, try metrics.render(telemetry), contentType: "text/plain; version=0.0.4; charset=utf-8")
            } catch {
                logger.error("metrics could not be read", metadata: ["error": "\(error)"])
                return .text(.internalServerError, "metrics could not be read\n")
            }
        case (.GET, "/status.json"):
            guard authorized(request) else { return unauthorized }
            do {
                return .json(.ok, try CanonicalJSON.encode(try telemetry.live(activity: true)))
            } catch {
                logger.error("status could not be read", metadata: ["error": "\(error)"])
                return .text(.internalServerError, "status could not be read\n")
            }
        case (.GET, "/"):
            if currentSession(request) != nil { return .html(.ok, DashboardAssets.dashboardPage) }
            if let (account, credential) = login.certificateAccount(request) {
                return .redirect(to: "/", headers: ["set-cookie": DashboardSessions.cookie(sessions.start(for: account, credential: credential))])
            }
            return loginPage(.ok, message: "")
        case (.GET, "/dashboard.js"):
            return asset(DashboardAssets.script, type: "text/javascript; charset=utf-8")
        case (.GET, "/dashboard.css"):
            return asset(DashboardAssets.style, type: "text/css; charset=utf-8")
        case (.POST, "/login"):
            return await logIn(request)
        case (.POST, "/logout"):
            guard let (token, session) = currentSession(request) else { return .redirect(to: "/") }
            guard request.formValue("csrf") == session.csrf else { return .text(.forbidden, "the form is stale; reload the page\n") }
            sessions.end(token)
            return .redirect(to: "/", headers: ["set-cookie": DashboardSessions.cookie(nil)])
        case (.GET, "/api/overview"):
            guard let (token, session) = currentSession(request) else { return .json(.unauthorized, Array(#"{"error":"log in first"}"#.utf8)) }
            do {
                let page = request.queryValue("page").flatMap { Int($0) }.map { min(max(0, $0), 100_000) } ?? 0
                return .json(.ok, try sessions.overview(for: token, page: page) {
                    let overview = try DashboardOverview.build(for: session.account, csrf: session.csrf, telemetry: telemetry, domain: domain, page: page)
                    return try JSONEncoder().encode(overview).map { $0 }
                })
            } catch {
                logger.error("the dashboard's data could not be read", metadata: ["error": "\(error)"])
                return .json(.internalServerError, Array(#"{"error":"the gateway could not read its data"}"#.utf8))
            }
        case (_, "/healthz"), (_, "/readyz"), (_, "/metrics"), (_, "/status.json"), (_, "/"), (_, "/dashboard.js"),
             (_, "/dashboard.css"), (_, "/login"), (_, "/logout"), (_, "/api/overview"):
            return HTTPResponse(status: .methodNotAllowed, headers: ["allow": request.method == .GET ? "POST" : "GET"])
        default:
            return .text(.notFound, "not found\n")
        }
    }

    /// Whether the Host header names this gateway: an IP address (no rebinding is possible
    /// without a name), `localhost`, the gateway's domain, or an allowed name.
    func hostIsOurs(_ request: HTTPRequest) -> Bool {
        guard let header = request.headers.first(name: "host")?.lowercased() else { return request.headers["host"].isEmpty }
        var host = Substring(header)
        if host.hasPrefix("[") { return host.contains("]") }  // an IPv6 literal
        if let colon = host.lastIndex(of: ":") { host = host[..<colon] }
        if host.allSatisfy({ $0.isNumber || $0 == "." }) { return true }
        return host == "localhost" || host == domain.lowercased() || allowedHosts.contains(String(host))
    }

    private var unauthorized: HTTPResponse {
        HTTPResponse(status: .unauthorized, headers: ["www-authenticate": #"Bearer realm="agora""#, "content-type": "text/plain"],
                     body: Array("a bearer token is required from beyond loopback\n".utf8))
    }

    /// Loopback peers need no token; others must present it (compared in constant time).
    private func authorized(_ request: HTTPRequest) -> Bool {
        if request.isFromLoopback { return true }
        guard let header = request.headers.first(name: "authorization"), header.hasPrefix("Bearer ") else { return false }
        let presented = Array(header.utf8.dropFirst("Bearer ".utf8.count))
        guard presented.count == token.count, !token.isEmpty else { return false }
        return zip(presented, token).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }

    private func currentSession(_ request: HTTPRequest) -> (String, DashboardSessions.Session)? {
        guard let token = request.cookie(DashboardSessions.cookieName), let session = sessions.session(token) else { return nil }
        guard login.stillValid(session) else {
            sessions.end(token)
            return nil
        }
        return (token, session)
    }

    private func asset(_ text: String, type: String) -> HTTPResponse {
        HTTPResponse(status: .ok, headers: ["content-type": type, "cache-control": "no-cache"], body: Array(text.utf8))
    }

    private func loginPage(_ status: HTTPResponseStatus, message: String) -> HTTPResponse {
        .html(status, DashboardAssets.loginPage.replacing("{{message}}", with: HTMLText.escape(message)))
    }

    private func logIn(_ request: HTTPRequest) async -> HTTPResponse {
        // A form posted from another site carries its Origin: refused (with SameSite=Strict
        // cookies, the rest of the dashboard is CSRF-safe by construction).
        if let origin = request.headers.first(name: "origin"), let host = request.headers.first(name: "host"),
           origin != "http://\(host)", origin != "https://\(host)" {
            return .text(.forbidden, "cross-site login refused\n")
        }
        switch await login.check(account: request.formValue("account") ?? "", password: request.formValue("password") ?? "",
                                 address: request.peerAddress) {
        case .accepted(let account, let credential):
            telemetry.dashboardLogins.record("accepted")
            return .redirect(to: "/", headers: ["set-cookie": DashboardSessions.cookie(sessions.start(for: account, credential: credential))])
        // 200 with the form again, as browsers expect of a refused form login (a 4xx status
        // would add a console error to every refused login, and says nothing more).
        case .refused:
            telemetry.dashboardLogins.record("refused")
            return loginPage(.ok, message: "wrong account or password")
        case .throttled:
            telemetry.dashboardLogins.record("throttled")
            return loginPage(.ok, message: "too many failed attempts; wait a minute and try again")
        }
    }
}

/// Text for HTML, escaped (the only text the server puts into a page is the login message).
enum HTMLText {
    static func escape(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }
}
