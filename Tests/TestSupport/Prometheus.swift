import Foundation

/// A real Prometheus (Debian's `prometheus`), scraping one target every second, with rule
/// files loaded; stopped by `stop()` (and its data removed with the test's directory).
public final class Prometheus {
    public let port: Int
    private let process: Process
    private let logPath: String

    /// - Parameters:
    ///   - target: `host:port` of the `/metrics` to scrape (plain HTTP, job `agora`).
    ///   - rules: rule files to load (the shipped alerts), checked by Prometheus as it starts.
    public init(directory: String, target: String, rules: [String] = []) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let config = """
            global:
              scrape_interval: 1s
              evaluation_interval: 1s
            rule_files: [\(rules.map { "\"\($0)\"" }.joined(separator: ", "))]
            scrape_configs:
              - job_name: agora
                static_configs:
                  - targets: ["\(target)"]
            """
        try config.write(toFile: directory + "/prometheus.yml", atomically: true, encoding: .utf8)
        logPath = directory + "/prometheus.log"
        var started: (Int, Process)?
        for _ in 0..<4 where started == nil {
            let port = try freePorts(1)
            let process = try spawn("/usr/bin/prometheus", [
                "--config.file=\(directory)/prometheus.yml", "--storage.tsdb.path=\(directory)/tsdb",
                "--web.listen-address=127.0.0.1:\(port)", "--log.level=warn",
            ], log: logPath)
            let ready = eventually(timeout: 30, interval: 0.2) {
                !process.isRunning || ((try? Self.get("http://127.0.0.1:\(port)/-/ready")) ?? "").contains("Ready")
            }
            if ready, process.isRunning { started = (port, process) } else { stopHard(process) }
        }
        guard let (port, process) = started else {
            throw AgoraCLI.Failure(description: "prometheus did not start:\n\(fileText(logPath).suffix(2000))")
        }
        self.port = port
        self.process = process
    }

    public func stop() { stopHard(process) }

    public var log: String { fileText(logPath) }

    /// The value of an instant PromQL query's first sample, or nil when it has none.
    public func value(_ query: String) throws -> Double? {
        var components = URLComponents(string: "http://127.0.0.1:\(port)/api/v1/query")!
        components.queryItems = [URLQueryItem(name: "query", value: query)]
        let body = try Self.get(components.url!.absoluteString)
        guard let json = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
              let data = json["data"] as? [String: Any], let result = data["result"] as? [[String: Any]],
              let sample = result.first?["value"] as? [Any], let text = sample.last as? String else { return nil }
        return Double(text)
    }

    /// The JSON of `GET path` on Prometheus' API (e.g. `/api/v1/rules`).
    public func api(_ path: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(try Self.get("http://127.0.0.1:\(port)\(path)").utf8)) as? [String: Any] ?? [:]
    }

    static func get(_ url: String) throws -> String {
        let result = try runProcess("/usr/bin/curl", ["-s", "--max-time", "5", url])
        guard result.status == 0 else { throw AgoraCLI.Failure(description: "curl \(url): exit \(result.status)") }
        return result.stdout
    }
}

/// `curl` of `url` (with extra arguments): status line aside, the body and curl's exit status.
public func httpGet(_ url: String, _ arguments: [String] = []) throws -> (status: Int32, body: String, code: Int) {
    let result = try runProcess("/usr/bin/curl", ["-s", "--max-time", "10", "-o", "/dev/stdout", "-w", "\n%{http_code}"] + arguments + [url])
    var lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
    let code = Int(lines.popLast() ?? "") ?? 0
    return (result.status, lines.joined(separator: "\n"), code)
}
