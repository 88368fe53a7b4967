import AgoraCore
import AgoraHTTP
import AgoraTestSupport
import AgoraXMPP
import Foundation
import Logging
import NIOHTTP1
import Testing
@testable import AgoraApp

/// The HTTP routes of `agora serve` on a real gateway, called with request values: logins,
/// sessions, CSRF, who sees what on the dashboard, and who may read `/metrics`.
@Suite struct DashboardRoutesTests {
    static let token = Array("t0ken-t0ken-t0ken-t0ken-t0ken-t0ken".utf8)

    func routes(_ harness: ServiceHarness) -> GatewayRoutes {
        let gateway = harness.gateway
        return GatewayRoutes(
            telemetry: GatewayTelemetry(gateway: gateway, xmpp: harness.server, ingest: nil), metrics: GatewayMetrics(),
            sessions: DashboardSessions(),
            login: DashboardLogin(credentials: .init(store: gateway.store), accounts: XMPPSetup.accountHooks(for: gateway),
                                  throttles: harness.server.authThrottles, freeFailures: 3, maxBackoffSeconds: 60),
            token: Self.token, domain: ServiceHarness.domain, logger: testLogger())
    }

    func post(_ path: String, _ form: String, cookie: String? = nil, origin: String? = "http://127.0.0.1:8080") -> HTTPRequest {
        var headers: HTTPHeaders = ["host": "127.0.0.1:8080", "content-type": "application/x-www-form-urlencoded"]
        if let origin { headers.add(name: "origin", value: origin) }
        if let cookie { headers.add(name: "cookie", value: "agora_session=\(cookie)") }
        return HTTPRequest(method: .POST, path: path, headers: headers, body: Array(form.utf8), peerAddress: "127.0.0.1")
    }

    func get(_ path: String, cookie: String? = nil, peer: String = "127.0.0.1", query: [(String, String)] = []) -> HTTPRequest {
        var headers: HTTPHeaders = ["host": "127.0.0.1:8080"]
        if let cookie { headers.add(name: "cookie", value: "agora_session=\(cookie)") }
        return HTTPRequest(method: .GET, path: path, query: query, headers: headers, peerAddress: peer)
    }

    /// Logs `name` in; returns the session cookie's value.
    func logIn(_ routes: GatewayRoutes, _ name: String) async throws -> String {
        let response = await routes.respond(to: post("/login", "account=\(name)%40\(ServiceHarness.domain)&password=\(ServiceHarness.password(name))"))
        #expect(response.status == .seeOther)
        let cookie = try #require(response.headers.first(name: "set-cookie"))
        return try #require(cookie.firstMatch(of: /agora_session=([0-9a-f]{64});/).map { String($0.1) })
    }

    func overview(_ routes: GatewayRoutes, _ cookie: String) async throws -> [String: Any] {
        let response = await routes.respond(to: get("/api/overview", cookie: cookie))
        #expect(response.status == .ok)
        return try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
    }

    @Test func theRightPasswordStartsASessionWithAStrictCookieAndLogoutNeedsItsCSRFToken() async throws {
        try await ServiceHarness.with { harness in
            let routes = routes(harness)
            let response = await routes.respond(to: post("/login", "account=olga%40svc.test&password=password-olga"))
            let cookie = try #require(response.headers.first(name: "set-cookie"))
            for attribute in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/"] { #expect(cookie.contains(attribute), "\(cookie)") }
            let session = try await logIn(routes, "olga")
            let data = try await overview(routes, session)
            let csrf = try #require(data["csrf"] as? String)
            #expect(await routes.respond(to: post("/logout", "csrf=wrong", cookie: session)).status == .forbidden)
            #expect(await routes.respond(to: get("/api/overview", cookie: session)).status == .ok, "a refused logout ended the session")
            #expect(await routes.respond(to: post("/logout", "csrf=\(csrf)", cookie: session)).status == .seeOther)
            #expect(await routes.respond(to: get("/api/overview", cookie: session)).status == .unauthorized)
        }
    }

    @Test func wrongPasswordsAreRefusedThenThrottledAndNeverStartASession() async throws {
        try await ServiceHarness.with { harness in
            let routes = routes(harness)
            for _ in 0..<3 {
                let refused = await routes.respond(to: post("/login", "account=olga%40svc.test&password=guess"))
                #expect(String(decoding: refused.body, as: UTF8.self).contains("wrong account or password"))
                #expect(refused.headers.first(name: "set-cookie") == nil)
            }
            _ = await routes.respond(to: post("/login", "account=olga%40svc.test&password=guess"))
            // In back-off now: even the right password is not looked at.
            let throttled = await routes.respond(to: post("/login", "account=olga%40svc.test&password=password-olga"))
            #expect(String(decoding: throttled.body, as: UTF8.self).contains("too many failed attempts"))
            #expect(throttled.headers.first(name: "set-cookie") == nil)
            let unknown = await routes.respond(to: post("/login", "account=nobody%40svc.test&password=x"))
            #expect(String(decoding: unknown.body, as: UTF8.self).contains("wrong account or password"))
            // Counted, for the metrics: 5 refused (4 guesses, the unknown account), 1 throttled.
            #expect(routes.telemetry.dashboardLogins.counts == ["accepted": 0, "refused": 5, "throttled": 1])
        }
    }

    @Test func aRequestNamingAnotherHostIsRefusedSoDNSRebindingReadsNothing() async throws {
        try await ServiceHarness.with { harness in
            let routes = routes(harness)
            var request = get("/metrics")
            request.headers.replaceOrAdd(name: "host", value: "attacker.example:8080")
            #expect(await routes.respond(to: request).status == .misdirectedRequest)
            for host in ["localhost:8080", "127.0.0.1", "[::1]:8080", "svc.test:8443", "192.0.2.7"] {
                request.headers.replaceOrAdd(name: "host", value: host)
                #expect(await routes.respond(to: request).status == .ok, "Host: \(host)")
            }
        }
    }

    @Test func aPasswordChangeEndsTheSessionsTheOldPasswordOpened() async throws {
        try await ServiceHarness.with { harness in
            let routes = routes(harness)
            let session = try await logIn(routes, "olga")
            #expect(await routes.respond(to: get("/api/overview", cookie: session)).status == .ok)
            try await CredentialStore(store: harness.gateway.store).set(try SCRAMCredentials.derive(password: "a-new-password-1"), for: ServiceHarness.jid("olga"))
            #expect(await routes.respond(to: get("/api/overview", cookie: session)).status == .unauthorized)
        }
    }

    @Test func aLoginPostedFromAnotherSiteIsRefused() async throws {
        try await ServiceHarness.with { harness in
            let response = await routes(harness).respond(to: post("/login", "account=olga%40svc.test&password=password-olga", origin: "https://evil.example"))
            #expect(response.status == .forbidden)
            #expect(response.headers.first(name: "set-cookie") == nil)
        }
    }

    @Test func theDashboardDataNeedsASessionAndABadCookieIsNone() async throws {
        try await ServiceHarness.with { harness in
            let routes = routes(harness)
            #expect(await routes.respond(to: get("/api/overview")).status == .unauthorized)
            #expect(await routes.respond(to: get("/api/overview", cookie: String(repeating: "a", count: 64))).status == .unauthorized)
            #expect(await routes.respond(to: get("/api/overview", cookie: "../../etc/passwd")).status == .unauthorized)
            let page = await routes.respond(to: get("/"))
            #expect(String(decoding: page.body, as: UTF8.self).contains("action=\"/login\""), "without a session / is the sign-in page")
        }
    }

    @Test func consumersSeeOnlyWhatTheyBoughtOwnersTheirOwnAndOperatorsEverything() async throws {
        try await ServiceHarness.with { harness in
            let gateway = harness.gateway
            let now = Int64(Date().timeIntervalSince1970)
            let hour = now / 3600 * 3600
            // A reading every 10 minutes over the last three hours.
            let readings = (0..<18).map { Reading(name: "air-1:pm25", time: (now - 3 * 3600 + Int64($0) * 600) * 1_000_000_000, unit: "ug/m3", value: .number(Double($0))) }
            _ = try await gateway.ingest(readings, of: harness.sensor)
            _ = try await gateway.purchase(buyer: ServiceHarness.jid("carol"), sensor: harness.sensor, from: try Timestamp(seconds: hour - 3600),
                                           to: try Timestamp(seconds: hour), requestID: "dash", maxCredits: nil)
            let inWindow = readings.filter { $0.time >= (hour - 3600) * 1_000_000_000 && $0.time < hour * 1_000_000_000 }.count
            let routes = routes(harness)

            let carol = try await overview(routes, try await logIn(routes, "carol"))
            let carolSensors = try #require(carol["sensors"] as? [[String: Any]])
            #expect(carolSensors.map { $0["id"] as? String } == ["air-1"])
            #expect((carolSensors.first?["hourly"] as? [Int])?.reduce(0, +) == inWindow, "readings outside the bought window were counted")
            #expect(carol["sessions"] == nil && carol["store"] == nil && carol["ingest"] == nil && carol["broker"] == nil)
            // The trust model's figures for carol: not rated yet, so dependability is only popularity's share.
            #expect(carolSensors.first?["ratings"] as? Int == 0 && carolSensors.first?["reputation"] as? Double == 0)
            #expect((carolSensors.first?["dependability"] as? Double).map { abs($0 - 0.1 / 11) < 1e-9 } == true, "\(carolSensors)")

            let dave = try await overview(routes, try await logIn(routes, "dave"))
            #expect((dave["sensors"] as? [Any])?.isEmpty == true, "a consumer who bought nothing sees a sensor")

            let bob = try await overview(routes, try await logIn(routes, "bob"))
            #expect(((bob["sensors"] as? [[String: Any]])?.first?["hourly"] as? [Int])?.reduce(0, +) == readings.count)
            #expect(bob["sessions"] == nil)

            let olga = try await overview(routes, try await logIn(routes, "olga"))
            #expect(olga["sessions"] != nil && olga["store"] != nil && olga["ingest"] != nil)
            let perMinute = try #require((olga["ingest"] as? [String: Any])?["readingsPerMinute"] as? [Int])
            // Sixty one-minute buckets, the last one the current minute.
            let chartStart = ((now / 60 + 1) * 60 - 3600) * 1_000_000_000
            #expect(perMinute.count == 60)
            #expect(perMinute.reduce(0, +) == readings.filter { $0.time >= chartStart }.count)
        }
    }

    @Test func metricsAreOpenOnLoopbackAndNeedTheTokenFromElsewhere() async throws {
        try await ServiceHarness.with { harness in
            let routes = routes(harness)
            let local = await routes.respond(to: get("/metrics"))
            #expect(local.status == .ok)
            #expect(String(decoding: local.body, as: UTF8.self).contains("agora_ledger_entries "))
            #expect(await routes.respond(to: get("/metrics", peer: "192.0.2.7")).status == .unauthorized)
            #expect(await routes.respond(to: get("/status.json", peer: "192.0.2.7")).status == .unauthorized)
            var bearer = get("/metrics", peer: "192.0.2.7")
            bearer.headers.add(name: "authorization", value: "Bearer " + String(decoding: Self.token, as: UTF8.self))
            #expect(await routes.respond(to: bearer).status == .ok)
            var wrong = get("/metrics", peer: "192.0.2.7")
            wrong.headers.add(name: "authorization", value: "Bearer " + String(decoding: Self.token.dropLast(), as: UTF8.self) + "x")
            #expect(await routes.respond(to: wrong).status == .unauthorized)
            #expect(await routes.respond(to: get("/healthz", peer: "192.0.2.7")).status == .ok)
            #expect(await routes.respond(to: get("/nothing-here")).status == .notFound)
        }
    }
}
