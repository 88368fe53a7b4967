import AgoraTestSupport
import Foundation
import Testing

/// `agora serve`'s HTTP listener with real peers: a real Prometheus scraping it while
/// readings flow, the dashboard in headless Chromium, and the rules beyond loopback (TLS,
/// the bearer token).
@Suite(.serialized) struct ObservabilityTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static var alertRules: String { repository + "/Packaging/prometheus/agora-alerts.yml" }

    @Test func aRealPrometheusScrapingServeCountsEveryPublishedReadingAndAFrozenSensorsDrops() throws {
        let httpPort = try freePorts(1)
        let rig = try SensorBrokerRig("agora-prometheus", sensors: ["air-1", "air-2"], serveEnvironment: ["AGORA_HTTP_PORT": "\(httpPort)"]) { cli in
            try cli.ok(["sensor", "freeze", "air-2", "--reason", "maintenance"])
        }
        let exposition = try runProcess("/bin/sh", ["-c", "curl -sf http://127.0.0.1:\(httpPort)/metrics | promtool check metrics"])
        #expect(exposition.status == 0, "promtool check metrics: \(exposition.stdout) \(exposition.stderr)")
        let rules = try runProcess("/usr/bin/promtool", ["check", "rules", Self.alertRules])
        #expect(rules.status == 0, "promtool check rules: \(rules.stdout) \(rules.stderr)")

        let prometheus = try Prometheus(directory: rig.dir.file("prometheus"), target: "127.0.0.1:\(httpPort)", rules: [Self.alertRules])
        defer { prometheus.stop() }
        #expect(try rig.publish("air-1", 0..<20) == 0)
        #expect(try rig.publish("air-2", 0..<5) == 0)
        let seen = eventually(timeout: 60, interval: 0.5) {
            (try? prometheus.value("agora_ingest_readings_total")) == 20
                && (try? prometheus.value(#"agora_ingest_dropped_total{reason="frozen"}"#)) == 5
        }
        if !seen {
            let readings = try? prometheus.value("agora_ingest_readings_total")
            let frozen = try? prometheus.value(#"agora_ingest_dropped_total{reason="frozen"}"#)
            let metrics = (try? httpGet("http://127.0.0.1:\(httpPort)/metrics").body.suffix(3000)) ?? ""
            Issue.record("Prometheus saw readings=\(String(describing: readings)) frozen=\(String(describing: frozen)); /metrics: \(metrics)\nprometheus: \(prometheus.log.suffix(2000))")
        }
        #expect(try rig.stored("air-1") == 20)
        #expect(try prometheus.value(#"agora_sensor_last_reading_timestamp_seconds{sensor="air-1"}"#) == Double(rig.base + 19))
        #expect(try prometheus.value("agora_mqtt_connected") == 1)
        #expect(try prometheus.value(#"agora_sensors{state="frozen"}"#) == 1)
        #expect(try prometheus.value("agora_ingest_durable_latency_seconds_count") ?? 0 >= 20)
        #expect(try prometheus.value("agora_store_commit_duration_seconds_count") ?? 0 >= 1)
        // The shipped rules load and evaluate against the real series.
        let groups = ((try prometheus.api("/api/v1/rules")["data"] as? [String: Any])?["groups"] as? [[String: Any]]) ?? []
        let ruleNames = groups.flatMap { ($0["rules"] as? [[String: Any]]) ?? [] }.compactMap { $0["name"] as? String }
        #expect(Set(ruleNames).isSuperset(of: ["AgoraBrokerDisconnected", "AgoraSensorSilent", "AgoraStoreAbove80Percent", "AgoraCheckpointStale"]), "\(ruleNames)")

        // The same numbers, live, in agora status.
        let environment = ProcessInfo.processInfo.environment.merging(["AGORA_HTTP_PORT": "\(httpPort)"]) { _, new in new }
        let status = try JSONSerialization.jsonObject(with: Data(try rig.cli.run(["status", "--json"], environment: environment).stdout.utf8)) as? [String: Any]
        let live = status?["live"] as? [String: Any]
        let mqtt = live?["mqtt"] as? [String: Any]
        #expect(mqtt?["readingsStored"] as? Int == 20, "\(String(describing: status))")
        #expect(mqtt?["connected"] as? Bool == true)
        #expect((mqtt?["dropped"] as? [String: Any])?["frozen"] as? Int == 5)
    }

    @Test func theDashboardShowsOperatorsEverythingAndConsumersOnlyWhatTheyBoughtInAHeadlessBrowser() throws {
        let httpPort = try freePorts(1)
        let now = Int(Date().timeIntervalSince1970)
        let rig = try SensorBrokerRig("agora-dashboard", sensors: ["air-1", "air-2"], serveEnvironment: ["AGORA_HTTP_PORT": "\(httpPort)"]) { cli in
            try cli.addAccount("op@gw1.example", role: "operator", password: "operator-pass-1")
            try cli.addAccount("buyer@gw1.example", role: "consumer", password: "buyer-pass-1")
            try cli.ok(["credit", "mint", "buyer@gw1.example", "100"])
            let formatter = ISO8601DateFormatter()
            let hour = now / 3600 * 3600
            try cli.ok(["purchase", "--buyer", "buyer@gw1.example", "--sensor", "air-1",
                        "--from", formatter.string(from: Date(timeIntervalSince1970: Double(hour - 3 * 3600))),
                        "--to", formatter.string(from: Date(timeIntervalSince1970: Double(hour + 3600)))])
        }
        // One reading a minute over the last half hour (air-1) and the last ten minutes (air-2).
        #expect(try rig.publish("air-1", times: (0..<30).map { now - 1800 + $0 * 60 }) == 0)
        #expect(try rig.publish("air-2", times: (0..<10).map { now - 600 + $0 * 60 }) == 0)
        try waitUntil("the readings are stored", timeout: 30) { (try? rig.stored("air-1")) == 30 && (try? rig.stored("air-2")) == 10 }

        let artefacts = Self.repository + "/.build/test-artefacts"
        try FileManager.default.createDirectory(atPath: artefacts, withIntermediateDirectories: true)
        let check = try runProcess("/usr/bin/python3", [
            Self.repository + "/Tests/Interop/dashboard/check_dashboard.py", "--url", "http://127.0.0.1:\(httpPort)",
            "--operator", "op@gw1.example:operator-pass-1", "--consumer", "buyer@gw1.example:buyer-pass-1",
            "--operator-sensors", "air-1,air-2", "--consumer-sensors", "air-1", "--min-chart-points", "20",
            "--screenshot", artefacts + "/dashboard.png",
        ])
        #expect(check.status == 0, "check_dashboard.py: \(check.stdout)\n\(check.stderr)\n--- serve ---\n\(rig.serveLog.suffix(2000))")
        // The failed login the check made is counted against the account like a failed SASL attempt is.
        let page = try httpGet("http://127.0.0.1:\(httpPort)/api/overview")
        #expect(page.code == 401, "the dashboard's data without a session: \(page)")
        // And counted in the metrics: the browser's wrong password, and its two logins.
        let metrics = try httpGet("http://127.0.0.1:\(httpPort)/metrics").body
        let logins = metrics.split(separator: "\n").filter { $0.hasPrefix("agora_dashboard_logins_total") }
        #expect(logins.contains(#"agora_dashboard_logins_total{outcome="refused"} 1"#) && logins.contains { $0.hasPrefix(#"agora_dashboard_logins_total{outcome="accepted"}"#) && !$0.hasSuffix(" 0") }, "\(logins)")
    }

    @Test func readyzSaysReadyOnlyOnceTheBrokerHasMadeTheGatewaysSubscriptions() throws {
        let httpPort = try freePorts(1)
        let dir = try TemporaryDirectory("agora-readyz")
        defer { dir.remove() }
        let cli = AgoraCLI(stateDirectory: dir.file("state"))
        try cli.ok(["init", "--domain", "gw1.example"])
        // The broker is configured (the gateway knows where it is) but down when serve starts.
        let mosquitto = try Mosquitto(cli: cli, out: dir.file("broker"), log: dir.file("mosquitto.log"))
        defer { mosquitto.stop() }
        mosquitto.stop()
        let readyz = "http://127.0.0.1:\(httpPort)/readyz"
        let serve = try startServe(stateDirectory: dir.file("state"), log: dir.file("serve.log"),
                                   environment: mqttOnlyEnvironment.merging(["AGORA_HTTP_PORT": "\(httpPort)"]) { _, new in new })
        defer { stopHard(serve) }
        let down = try httpGet(readyz)
        #expect(down.code == 503 && down.body.contains("the broker is not connected"), "\(down)")
        #expect(try httpGet("http://127.0.0.1:\(httpPort)/healthz").code == 200, "alive, though not ready")

        // The broker comes up: from the first 200 on, the broker has made the gateway's
        // subscriptions (a reading published then reaches it), whenever that 200 comes.
        try mosquitto.restart()
        var polls = 0
        try waitUntil("/readyz answers 200", timeout: 60, interval: 0.005, details: { (try? httpGet(readyz).body) ?? "" }) {
            polls += 1
            return (try? httpGet(readyz).code) == 200
        }
        #expect(mosquitto.gatewayIsSubscribed, "ready before the broker had subscribed the gateway (after \(polls) polls)")
        #expect(fileText(dir.file("serve.log")).contains("subscribed to sensor readings"))
    }

    @Test func beyondLoopbackTheListenerSpeaksOnlyTLSAndMetricsNeedTheBearerToken() throws {
        let address = try runProcess("/bin/sh", ["-c", "ip -4 -o addr show scope global | awk '{print $4}' | cut -d/ -f1 | head -1"]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        try #require(!address.isEmpty, "this test needs an address beyond loopback to be a peer from (ip -4 addr shows none)")
        let dir = try TemporaryDirectory("agora-http-tls")
        defer { dir.remove() }
        let cli = AgoraCLI(stateDirectory: dir.file("state"))
        try cli.ok(["init", "--domain", "gw1.example"])
        try cli.ok(["user", "add", "op@gw1.example", "--role", "operator"])
        _ = try runProcess("/usr/bin/openssl", ["req", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                                                "-keyout", dir.file("op.key"), "-out", dir.file("op.csr"), "-subj", "/CN=op@gw1.example"])
        try cli.ok(["ca", "sign", dir.file("op.csr"), "--for", "op@gw1.example"]).write(toFile: dir.file("op.pem"), atomically: true, encoding: .utf8)
        let serve = try withFreePorts(3) { port in
            try startServe(stateDirectory: dir.file("state"), log: dir.file("serve.log"), environment: [
                "AGORA_XMPP_C2S_PORT": "\(port)", "AGORA_XMPP_TLS_PORT": "\(port + 1)", "AGORA_XMPP_BIND_ADDRESS": "127.0.0.1",
                "AGORA_HTTP_PORT": "\(port + 2)", "AGORA_HTTP_BIND_ADDRESS": "0.0.0.0",
            ])
        }
        defer { stopHard(serve) }
        let port = try #require(fileText(dir.file("serve.log")).firstMatch(of: /http\.port=(\d+)/).map { String($0.1) })
        let tokenFile = dir.file("state/http/metrics.token")
        let mode = (try FileManager.default.attributesOfItem(atPath: tokenFile)[.posixPermissions] as? Int) ?? -1
        #expect(mode == 0o600, "the token file's mode is \(String(mode, radix: 8))")
        let token = try String(contentsOfFile: tokenFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let ca = ["--cacert", dir.file("state/xmpp/ca.pem")]

        let plain = try httpGet("http://\(address):\(port)/healthz")
        #expect(plain.code != 200, "plain HTTP was answered beyond loopback: \(plain)")
        let remoteWithout = try httpGet("https://gw1.example:\(port)/metrics", ca + ["--resolve", "gw1.example:\(port):\(address)"])
        #expect(remoteWithout.code == 401, "\(remoteWithout)")
        let remoteWith = try httpGet("https://gw1.example:\(port)/metrics", ca + ["--resolve", "gw1.example:\(port):\(address)", "-H", "Authorization: Bearer \(token)"])
        #expect(remoteWith.code == 200 && remoteWith.body.contains("agora_ledger_entries"), "\(remoteWith.code)")
        let wrong = try httpGet("https://gw1.example:\(port)/metrics", ca + ["--resolve", "gw1.example:\(port):\(address)", "-H", "Authorization: Bearer \(token.dropLast())x"])
        #expect(wrong.code == 401)
        let health = try httpGet("https://gw1.example:\(port)/healthz", ca + ["--resolve", "gw1.example:\(port):\(address)"])
        #expect(health.code == 200, "health needs no token: \(health)")
        let local = try httpGet("https://gw1.example:\(port)/metrics", ca + ["--resolve", "gw1.example:\(port):127.0.0.1"])
        #expect(local.code == 200, "a loopback peer needs no token: \(local.code)")
        // A client certificate from the Agora CA logs in to the dashboard without a password.
        let jar = dir.file("cookies")
        let withCertificate = try httpGet("https://gw1.example:\(port)/", ca + ["--resolve", "gw1.example:\(port):\(address)",
                                                                                "--cert", dir.file("op.pem"), "--key", dir.file("op.key"), "-c", jar])
        #expect(withCertificate.code == 303, "\(withCertificate)")
        let overview = try httpGet("https://gw1.example:\(port)/api/overview", ca + ["--resolve", "gw1.example:\(port):\(address)", "-b", jar])
        #expect(overview.code == 200 && overview.body.contains(#""jid":"op@gw1.example""#), "\(overview)")
        let anonymous = try httpGet("https://gw1.example:\(port)/api/overview", ca + ["--resolve", "gw1.example:\(port):\(address)"])
        #expect(anonymous.code == 401)
        // agora status reaches it too, over TLS, checking the chain against the gateway's CA.
        let status = try cli.run(["status"], environment: ProcessInfo.processInfo.environment.merging(
            ["AGORA_HTTP_PORT": port, "AGORA_HTTP_BIND_ADDRESS": "0.0.0.0"]) { _, new in new })
        #expect(status.stdout.contains("running      up"), "\(status.stdout)\(status.stderr)")
        #expect(!fileText(dir.file("serve.log")).contains(token), "the token reached the log")
    }
}
