@testable import AgoraApp
import AgoraCore
import AgoraMarket
import AgoraReadings
import Foundation
import Logging
import Synchronization

/// The gateway the stateful targets (`xmpp-c2s`, `pairing`) run against: a fresh store in a
/// temporary directory (under `$TMPDIR`, else `/dev/shm` where fsync is cheap), opened once
/// per process and removed at exit.
///
/// Accounts: `alice` (operator, password `fuzz-password-1`), `bob` (owner of sensor `air-1`,
/// which has readings on 2026-11-22 from 08:00 for an hour), `carol` (consumer, who bought
/// 08:00–10:00 of it and has credits left).
final class FuzzGateway: Sendable {
    static let domain = "fuzz.example"
    static let password = "fuzz-password-1"
    static let shared = FuzzGateway()

    let gateway: Gateway
    let directory: String
    let logger = Logger(label: "agora.fuzz", factory: { _ in SwiftLogNoOpLogHandler() })
    let alice = try! BareJID("alice@fuzz.example")
    let bob = try! BareJID("bob@fuzz.example")
    let carol = try! BareJID("carol@fuzz.example")
    let sensor = try! SensorID("air-1")

    private init() {
        directory = Self.temporaryDirectory()
        let configuration = AgoraConfiguration(stateDirectory: directory + "/state", kekFile: directory + "/agora.kek")
        let logger = logger
        do {
            try blocking { _ = try await Gateway.initialize(configuration, domain: Self.domain, name: "fuzz", environment: [:], logger: logger) }
            gateway = try Gateway.open(configuration, environment: [:], logger: logger)
            try blocking { [gateway, alice, bob, carol, sensor] in
                let desk = GatewayOperatorDesk(gateway: gateway)
                try await desk.addAccount(alice, role: .operator, password: Self.password, actor: .operator)
                try await desk.addAccount(bob, role: .owner, password: Self.password, actor: .operator)
                try await desk.addAccount(carol, role: .consumer, password: Self.password, actor: .operator)
                _ = try await gateway.market.mint(try Credits(1_000_000), to: carol, memo: "fuzz", actor: .operator)
                _ = try await gateway.market.registerSensor(.init(
                    sensor: sensor, owner: bob, kind: "pm25", name: "Air 1", unit: "ug/m3", price: try Credits(2), frequency: 60,
                    lat: try Coordinate.latitude(35.681236), lon: try Coordinate.longitude(139.767125), url: "https://fuzz.example/air-1"), actor: .operator)
                let start = try Reading.parseTime("2026-11-22T08:00:00Z")
                let readings = (0..<60).map { Reading(name: "air-1:pm25", time: start + Int64($0) * 60_000_000_000, unit: "ug/m3", value: .number(Double($0) / 4)) }
                _ = try await ReadingsCommitter(store: gateway.store, ledger: gateway.ledger).commit([sensor: readings])
                _ = try await gateway.market.purchase(buyer: carol, sensor: sensor, from: try Timestamp(rfc3339: "2026-11-22T08:00:00Z"),
                                                      to: try Timestamp(rfc3339: "2026-11-22T10:00:00Z"), requestID: "fuzz-1", actor: .account(carol))
            }
        } catch {
            fatalError("the fuzz gateway could not be set up in \(directory): \(error)")
        }
        FuzzGateway.directories.withLock { $0.append(directory) }
        atexit { FuzzGateway.removeDirectories() }
    }

    private static let directories = Mutex<[String]>([])

    private static func removeDirectories() {
        for directory in directories.withLock({ $0 }) { try? FileManager.default.removeItem(atPath: directory) }
    }

    private static func temporaryDirectory() -> String {
        let environment = ProcessInfo.processInfo.environment
        let base = environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (FileManager.default.isWritableFile(atPath: "/dev/shm") ? "/dev/shm" : "/tmp")
        var template = Array("\(base)/agora-fuzz-XXXXXX".utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
            fatalError("cannot create a temporary directory under \(base)")
        }
        return String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
