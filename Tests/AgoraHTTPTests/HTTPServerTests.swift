import AgoraTestSupport
import Foundation
import Logging
import NIOHTTP1
import ServiceLifecycle
import Testing
@testable import AgoraHTTP

/// The listener against raw sockets: what a broken or hostile client sends is refused with
/// its status, counted, and leaves every other client served.
@Suite struct HTTPServerTests {
    /// Answers every request with its method and path; remembers the paths it saw.
    final class Echo: HTTPResponder, @unchecked Sendable {
        private let lock = NSLock()
        private var seen: [String] = []
        var paths: [String] { lock.withLock { seen } }
        func respond(to request: HTTPRequest) async -> HTTPResponse {
            lock.withLock { seen.append(request.path) }
            return .text(.ok, "\(request.method) \(request.path) \(request.body.count)\n")
        }
    }

    /// The default limits, but a request deadline no loaded machine reaches: the tests of
    /// other things must not race the 10 s idle deadline (CI, with every core busy, once
    /// took longer than that between two requests on one connection). The deadline's own
    /// tests set it to a second.
    static var patient: HTTPConfiguration.Limits {
        var limits = HTTPConfiguration.Limits()
        limits.requestTimeout = .seconds(3600)
        return limits
    }

    /// Runs a listener on a free loopback port around `body`.
    func withServer(_ limits: HTTPConfiguration.Limits = patient, _ body: (Int, HTTPServer, Echo) async throws -> Void) async throws {
        var configuration = HTTPConfiguration()
        configuration.port = 0
        configuration.limits = limits
        let echo = Echo()
        let server = try HTTPServer(configuration: configuration, responder: echo, logger: Logger(label: "test"))
        let group = ServiceGroup(configuration: .init(services: [.init(service: server)], logger: Logger(label: "test")))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            let port = try #require(await server.waitUntilListening())
            try await body(port, server, echo)
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    @Test func aRequestIsAnsweredAndTheConnectionKeptForTheNext() async throws {
        try await withServer { port, server, echo in
            let client = try RawClient(port: port)
            let first = try await client.exchange("GET /a?x=1 HTTP/1.1\r\nHost: t\r\n\r\n")
            let second = try await client.exchange("POST /b HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc")
            #expect(first.hasPrefix("HTTP/1.1 200"), "\(first)")
            #expect(first.contains("GET /a 0"))
            #expect(second.contains("POST /b 3"), "\(second)")
            #expect(first.lowercased().contains("x-content-type-options: nosniff"))
            #expect(echo.paths == ["/a", "/b"])
            #expect(server.metrics.snapshot.responses[200] == 2)
        }
    }

    @Test func oversizedHeadersBodiesAndTargetsAreRefusedCountedAndNeverRouted() async throws {
        var limits = HTTPConfiguration.Limits()
        limits.maxHeaderBytes = 1024
        limits.maxBodyBytes = 100
        limits.maxURIBytes = 200
        try await withServer(limits) { port, server, echo in
            let big = String(repeating: "a", count: 2000)
            let answer1 = try await RawClient(port: port).exchange("GET /h HTTP/1.1\r\nHost: t\r\nX-Big: \(big)\r\n\r\n")
            #expect(answer1.hasPrefix("HTTP/1.1 431"), "\(answer1)")
            let answer2 = try await RawClient(port: port).exchange("POST /b HTTP/1.1\r\nHost: t\r\nContent-Length: 101\r\n\r\n")
            #expect(answer2.hasPrefix("HTTP/1.1 413"), "\(answer2)")
            // Chunked, so the length is known only while reading.
            let chunked = "POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n64\r\n\(String(repeating: "x", count: 100))\r\n64\r\n\(String(repeating: "y", count: 100))\r\n0\r\n\r\n"
            let answer3 = try await RawClient(port: port).exchange(chunked)
            #expect(answer3.hasPrefix("HTTP/1.1 413"), "\(answer3)")
            let answer4 = try await RawClient(port: port).exchange("GET /\(String(repeating: "u", count: 300)) HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(answer4.hasPrefix("HTTP/1.1 414"), "\(answer4)")
            let refused = server.metrics.snapshot.refused
            #expect(refused[.headerTooLarge] == 1, "\(refused)")
            #expect(refused[.bodyTooLarge] == 2, "\(refused)")
            #expect(refused[.uriTooLong] == 1, "\(refused)")
            #expect(echo.paths.isEmpty)
        }
    }

    @Test(arguments: ["/../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/a%2fb", "/a%00", "//..//x/.."])
    func pathTraversalIsRefusedWith400(_ target: String) async throws {
        try await withServer { port, server, echo in
            let answer = try await RawClient(port: port).exchange("GET \(target) HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(answer.hasPrefix("HTTP/1.1 400"), "\(answer)")
            #expect(server.metrics.snapshot.refused[.badPath] == 1)
            #expect(echo.paths.isEmpty)
        }
    }

    @Test(arguments: ["PUT", "DELETE", "OPTIONS", "TRACE", "HEAD", "PATCH", "CONNECT"])
    func methodsOtherThanGetAndPostAreRefusedWith405(_ method: String) async throws {
        try await withServer { port, server, echo in
            let target = method == "CONNECT" ? "example.com:443" : "/metrics"
            let answer = try await RawClient(port: port).exchange("\(method) \(target) HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(answer.hasPrefix("HTTP/1.1 405") || (method == "CONNECT" && answer.hasPrefix("HTTP/1.1 400")), "\(answer)")
            #expect(echo.paths.isEmpty, "a refused method reached the responder")
            let refused = server.metrics.snapshot.refused
            let counted: Int = refused.values.reduce(0, +)
            #expect(counted == 1, "\(refused)")
        }
    }

    @Test func garbageIsAnswered400AndCountedAsMalformed() async throws {
        try await withServer { port, server, _ in
            let answer = try await RawClient(port: port).exchange("\u{01}\u{02} not http at all\r\n\r\n")
            #expect(answer.hasPrefix("HTTP/1.1 400"), "\(answer)")
            // Counted as the parser's error passes the pipeline, just after the answer was written.
            let counted = try await eventuallyAsync { server.metrics.snapshot.refused[.malformed] == 1 }
            #expect(counted, "\(server.metrics.snapshot.refused)")
        }
    }

    @Test func aSlowClientIsCutOffWhileOthersAreServed() async throws {
        var limits = HTTPConfiguration.Limits()
        limits.requestTimeout = .seconds(1)
        try await withServer(limits) { port, server, _ in
            let slow = try RawClient(port: port)
            try slow.send("GET /slow HTTP/1.1\r\nHost: t\r\n")
            var closed = false
            for index in 0..<12 {  // a header line every 250 ms: never a complete request
                try? await Task.sleep(for: .milliseconds(250))
                let other = try await RawClient(port: port).exchange("GET /fast HTTP/1.1\r\nHost: t\r\n\r\n")
                #expect(other.hasPrefix("HTTP/1.1 200"), "a served client waited behind a slow one: \(other)")
                if (try? slow.send("X-\(index): y\r\n")) == nil || slow.isClosed { closed = true; break }
            }
            #expect(closed || slow.isClosed, "the slow client was never cut off")
            #expect(server.metrics.snapshot.refused[.timeout] == 1)
        }
    }

    @Test func anIdleKeepAliveConnectionIsClosedWithoutCountingARefusal() async throws {
        var limits = HTTPConfiguration.Limits()
        limits.requestTimeout = .seconds(1)
        try await withServer(limits) { port, server, _ in
            let client = try RawClient(port: port)
            let answer5 = try await client.exchange("GET /x HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(answer5.hasPrefix("HTTP/1.1 200"), "\(answer5)")
            try await Task.sleep(for: .milliseconds(1500))
            let closed = try await eventuallyAsync(attempts: 200) { client.isClosed }  // patient on a loaded machine
            #expect(closed)
            #expect(server.metrics.snapshot.refused[.timeout] == nil)
        }
    }

    @Test func connectionsBeyondTheLimitAreClosedAndCounted() async throws {
        var limits = HTTPConfiguration.Limits()
        limits.maxConnections = 2
        // Held connections idle: on a loaded machine the default deadline could close them
        // (freeing their slots) before the third connects.
        limits.requestTimeout = .seconds(3600)
        try await withServer(limits) { port, server, _ in
            let held = try await hold(2, port: port)
            let third = try RawClient(port: port)
            let answer = (try? await third.exchange("GET /x HTTP/1.1\r\nHost: t\r\n\r\n")) ?? ""
            #expect(answer.isEmpty, "\(answer)")
            // Closed (end of file), not left open until the client's read timeout gave up.
            #expect(third.isClosedByPeer, "the refused connection was left open")
            #expect(server.metrics.snapshot.refused[.tooManyConnections] == 1)
            held.forEach { $0.close() }
            let freed = try await eventuallyAsync { ((try? await RawClient(port: port).exchange("GET /y HTTP/1.1\r\nHost: t\r\n\r\n")) ?? "").hasPrefix("HTTP/1.1 200") }
            #expect(freed, "a closed connection's slot was not given back")
        }
    }

    @Test func oneAddressCannotTakeMoreThanItsShareOfConnections() async throws {
        var limits = HTTPConfiguration.Limits()
        limits.maxConnectionsPerAddress = 2
        limits.requestTimeout = .seconds(3600)  // as above: held connections must stay held
        try await withServer(limits) { port, server, _ in
            let held = try await hold(2, port: port)
            let third = try RawClient(port: port)
            let answer = (try? await third.exchange("GET /x HTTP/1.1\r\nHost: t\r\n\r\n")) ?? ""
            #expect(answer.isEmpty && third.isClosedByPeer, "\(answer)")
            #expect(server.metrics.snapshot.refused[.tooManyFromAddress] == 1)
        }
    }

    @Test func pipelinedRequestsAreAllAnsweredInOrder() async throws {
        try await withServer { port, _, echo in
            let client = try RawClient(port: port)
            try client.send("GET /one HTTP/1.1\r\nHost: t\r\n\r\nGET /two HTTP/1.1\r\nHost: t\r\n\r\nGET /three HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            let all = try await client.readUntilClosed()
            #expect(all.components(separatedBy: "HTTP/1.1 200").count - 1 == 3, "\(all)")
            #expect(echo.paths == ["/one", "/two", "/three"])
        }
    }

    @Test func aListenerBeyondLoopbackWithoutTLSRefusesToStart() {
        var configuration = HTTPConfiguration()
        configuration.bindAddress = "0.0.0.0"
        #expect(throws: HTTPServerError.self) { try HTTPServer(configuration: configuration, responder: Echo(), logger: Logger(label: "t")) }
        configuration.bindAddress = "127.0.0.1"
        #expect(throws: Never.self) { try HTTPServer(configuration: configuration, responder: Echo(), logger: Logger(label: "t")) }
    }

    /// `count` connections, each answered once and kept open.
    func hold(_ count: Int, port: Int) async throws -> [RawClient] {
        var held: [RawClient] = []
        for _ in 0..<count {
            let client = try RawClient(port: port)
            let answer = try await client.exchange("GET /x HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(answer.hasPrefix("HTTP/1.1 200"))
            held.append(client)
        }
        return held
    }

    func eventuallyAsync(attempts: Int = 40, _ condition: () async throws -> Bool) async throws -> Bool {
        for _ in 0..<attempts {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return false
    }
}

/// A blocking TCP client on a socket of its own: sends bytes as given, reads one answer.
final class RawClient: @unchecked Sendable {  // used by one test at a time, from one task
    private let socket: Int32
    private(set) var isClosedByPeer = false

    init(port: Int) throws {
        socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var timeout = timeval(tv_sec: 20, tv_usec: 0)  // generous: a loaded CI machine, and a leaked socket still tells apart
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else { throw POSIXError(.ECONNREFUSED) }
        var ignore: Int32 = 1
        setsockopt(socket, SOL_SOCKET, SO_KEEPALIVE, &ignore, socklen_t(MemoryLayout<Int32>.size))
    }

    deinit { Glibc.close(socket) }

    func close() { shutdown(socket, Int32(SHUT_RDWR)) }

    func send(_ text: String) throws {
        let bytes = Array(text.utf8)
        let sent = bytes.withUnsafeBytes { Glibc.send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        guard sent == bytes.count else { throw POSIXError(.EPIPE) }
    }

    /// Sends `request`, then reads until one whole response (by its Content-Length) arrived
    /// or the peer closed; "" when it closed without answering.
    func exchange(_ request: String) async throws -> String {
        // Off the cooperative pool: a blocking read there would starve the server under test.
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try self.exchangeBlocking(request) }) }
        }
    }

    func exchangeBlocking(_ request: String) throws -> String {
        try send(request)
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
            // End of file, or a reset (closed with our request unread); EAGAIN is the read timeout.
            if count == 0 || (count < 0 && errno == ECONNRESET) { isClosedByPeer = true }
            if count <= 0 { break }
            received += buffer[0..<count]
            let text = String(decoding: received, as: UTF8.self)
            if let end = text.range(of: "\r\n\r\n") {
                let head = text[..<end.lowerBound].lowercased()
                let length = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                    .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
                if text.utf8.count - text.utf8.distance(from: text.startIndex, to: end.upperBound) >= length { break }
            }
        }
        return String(decoding: received, as: UTF8.self)
    }

    /// Everything the peer sends until it closes the connection (or 20 s of silence).
    func readUntilClosed() async throws -> String {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                var received: [UInt8] = []
                var buffer = [UInt8](repeating: 0, count: 65536)
                while true {
                    let count = buffer.withUnsafeMutableBytes { recv(self.socket, $0.baseAddress, $0.count, 0) }
                    if count <= 0 { break }
                    received += buffer[0..<count]
                }
                continuation.resume(returning: String(decoding: received, as: UTF8.self))
            }
        }
    }

    /// Whether the peer has closed the connection (a read returns end of file at once).
    var isClosed: Bool {
        if isClosedByPeer { return true }
        var byte: UInt8 = 0
        let count = recv(socket, &byte, 1, Int32(MSG_DONTWAIT | MSG_PEEK))
        return count == 0 || (count < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
    }
}
