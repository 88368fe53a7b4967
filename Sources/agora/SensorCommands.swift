import AgoraApp
import AgoraReadings
import AgoraCore
import AgoraMarket
import ArgumentParser

struct Sensor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Register, list, freeze and unfreeze sensors.",
        subcommands: [Add.self, AddMany.self, Invite.self, List.self, Freeze.self, Unfreeze.self, Reliability.self]
    )

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Register a pre-provisioned sensor (a ledger entry).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Sensor id: letters, digits, '-', '_', '.'.") var id: String
        @OptionGroup var fields: RegistrationOptions

        func run() async throws {
            let registration = try fields.registration(id: id)
            let accepted = try await global.withGateway { try await $0.market.registerSensor(registration, actor: .operator) }
            print("registered sensor \(registration.sensor) for \(registration.owner) (ledger entry \(accepted.index))")
        }
    }

    struct AddMany: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add-many",
            abstract: "Register sensors PREFIX0…PREFIX<N-1> with the same fields (test and benchmark set-ups).")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Sensor id prefix.") var prefix: String
        @Option(help: "How many sensors.") var count: Int
        @OptionGroup var fields: RegistrationOptions

        func run() async throws {
            guard (1...100_000).contains(count) else { throw ValidationError("--count must be 1…100000") }
            let registrations = try (0..<count).map { try fields.registration(id: "\(prefix)\($0)") }
            try await global.withGateway { gateway in
                // Concurrent submissions share group commits: one sync per batch, not per sensor.
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for chunk in stride(from: 0, to: registrations.count, by: 64) {
                        group.addTask {
                            for registration in registrations[chunk..<min(chunk + 64, registrations.count)] {
                                _ = try await gateway.market.registerSensor(registration, actor: .operator)
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }
            print("registered \(count) sensors")
        }
    }

    struct Invite: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Invite a sensor to pair over MQTT; prints its one-time code (shown once, stored only as a hash).",
            discussion: "The sensor sends {csr, proof} to <prefix>/pair/<id>/request with proof = base64 HMAC-SHA256(SHA-256(\"agora-pair:\" + CODE), CSR DER).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Sensor id: letters, digits, '-', '_', '.'.") var id: String
        @OptionGroup var fields: RegistrationOptions
        @Option(help: "How long the code is valid: e.g. 30m, 24h, 7d.") var ttl = "24h"

        func run() async throws {
            let registration = try fields.registration(id: id)
            let ttl: Int64
            do { ttl = try TimeSpan.seconds(parsing: self.ttl, field: "ttl", maxSeconds: 365 * 86_400) } catch { throw MarketRefusal.invalid(error) }
            let (code, expires) = try await global.withGateway { gateway in
                try await PairingResponder(gateway: gateway).invite(registration, ttlSeconds: ttl, actor: .operator)
            }
            FileHandleOutput.standardError("invited sensor \(registration.sensor) for \(registration.owner); the code expires at \(expires) and is shown only now:")
            print(code)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List registered sensors, then the invitations not yet paired (id, owner, expiry).")
        @OptionGroup var global: GlobalOptions
        @Flag(help: "Print JSON: the sensors as an array (with --pending: the invitations, without their code hash).") var json = false
        @Flag(help: "Only the invitations not yet paired.") var pending = false

        /// What `--json --pending` prints of an invitation: never the key, which stands for the code.
        struct PendingInvitation: Encodable {
            let sensor: String, owner: String, kind: String, expires: String, expired: Bool
        }

        func run() async throws {
            let (sensors, invitations) = try await global.withGateway(unlockKeys: false) { gateway in
                (try gateway.market.read { try $0.sensors() }, try SensorPairing(market: gateway.market).pendingInvitations())
            }
            let now = Timestamp.now()
            let invited = invitations.map {
                PendingInvitation(sensor: $0.registration.sensor.rawValue, owner: $0.registration.owner.description,
                                  kind: $0.registration.kind, expires: $0.expires.rfc3339, expired: $0.expires <= now)
            }
            if json {
                print(pending ? try JSONOutput.line(invited) : try JSONOutput.line(sensors))
                return
            }
            for s in sensors where !pending {
                let status = s.frozen ? "frozen (\(s.frozenReason))" : "active"
                print("\(s.id)\t\(s.owner)\t\(s.registration.kind)\t\(s.registration.price)/h\t\(status)")
            }
            for invitation in invited {
                let state = invitation.expired ? "invitation expired \(invitation.expires)" : "invited, not paired; code valid until \(invitation.expires)"
                print("\(invitation.sensor)\t\(invitation.owner)\t\(invitation.kind)\t-\t\(state)")
            }
        }
    }

    struct Freeze: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Freeze a sensor: no purchases, no ingestion (a ledger entry).")
        @OptionGroup var global: GlobalOptions
        @Argument var id: String
        @Option(help: "Why (kept in the ledger).") var reason: String

        func run() async throws {
            let id = try Parse.sensor(id)
            let accepted = try await global.withGateway { try await $0.market.freezeSensor(id, reason: reason, actor: .operator) }
            print("froze sensor \(id) (ledger entry \(accepted.index))")
        }
    }

    struct Unfreeze: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Unfreeze a sensor (a ledger entry).")
        @OptionGroup var global: GlobalOptions
        @Argument var id: String

        func run() async throws {
            let id = try Parse.sensor(id)
            let accepted = try await global.withGateway { try await $0.market.unfreezeSensor(id, actor: .operator) }
            print("unfroze sensor \(id) (ledger entry \(accepted.index))")
        }
    }
}

extension Sensor {
    struct Reliability: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "How sensors delivered, measured from the stored readings: the gateway's reliability R′.",
            discussion: """
                For each sensor with a declared frequency, over the last hour, day and 30 days: readings expected and \
                delivered, gaps (silences over twice the period), readings outside the kind's physical range, and R′ = \
                (delivery + share of time without gaps) / 2 × share in range; the day's R′ is the one scores use. \
                --seal writes the figures on the ledger (agora serve does so every [trust] reliability_interval_s).
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Sensor ids (default: every sensor that can be measured).") var ids: [String] = []
        @Flag(help: "Seal the figures on the ledger (a reliability entry per sensor).") var seal = false
        @Flag(help: "Print JSON: one object per sensor, the entry's fields.") var json = false

        func run() async throws {
            let ids = try ids.map { try Parse.sensor($0) }
            let measured = try await global.withGateway { gateway in
                let sealer = ReliabilitySealer(market: gateway.market, ranges: gateway.configuration.kindRanges)
                let now = Timestamp.now().seconds
                let sensors = try gateway.market.read { state in
                    try ids.isEmpty ? state.sensors()
                        : ids.map { id in guard let s = try state.sensor(id) else { throw MarketRefusal.unknownSensor(id) }; return s }
                }
                var results: [(LedgerEntry.Reliability, UInt64?)] = []
                for sensor in sensors {
                    guard let entry = try sealer.measure(sensor, now: now) else {
                        // Named when asked for, skipped silently in a sweep of all sensors.
                        if !ids.isEmpty {
                            FileHandleOutput.standardError("\(sensor.id): not measured (frozen, no declared frequency, or registered less than two periods ago)")
                        }
                        continue
                    }
                    results.append((entry, seal ? try await gateway.market.sealReliability(entry).index : nil))
                }
                return results
            }
            struct Output: Encodable {
                let sensor: String, until: String, reliability: Int, windows: [[Int64]], ledgerIndex: UInt64?
            }
            if json {
                print(try JSONOutput.line(measured.map { entry, index in
                    Output(sensor: entry.sensor.rawValue, until: entry.until.rfc3339, reliability: entry.reliability, windows: entry.windows, ledgerIndex: index)
                }))
                return
            }
            for (entry, index) in measured {
                print("\(entry.sensor)\tR′ \(Thousandths.format(entry.reliability))\(index.map { "\tsealed in ledger entry \($0)" } ?? "")")
                for row in entry.windows {
                    // The window as observed: clipped to the sensor's registration.
                    let window = row[0] >= 86_400 ? "\(row[0] / 86_400) d" : row[0] >= 3_600 ? "\(row[0] / 3_600) h" : "\(row[0] / 60) min"
                    print("  last \(window):\t\(row[2]) of \(row[1]) expected (\(row[8]) late), \(row[3]) gaps (longest \(row[4]) s), \(row[7]) of \(row[6]) out of range\(row[9] == 1 ? ", stopped at its read budget" : "")")
                }
            }
        }
    }
}

/// What a sensor registration says, shared by `sensor add` and `sensor invite`.
struct RegistrationOptions: ParsableArguments {
    @Option(help: "Bare JID of the owning account (role owner or operator).") var owner: String
    @Option(help: "What it measures, e.g. temperature.") var kind: String
    @Option(help: "Credits per started hour of data.") var price: String
    @Option(help: "Display name.") var name: String = ""
    @Option(help: "Unit of its readings, e.g. Cel.") var unit: String = ""
    @Option(help: "Latitude, decimal degrees.") var lat: Double?
    @Option(help: "Longitude, decimal degrees.") var lon: Double?
    @Option(help: "Seconds between readings.") var frequency: UInt32 = 0
    @Option(help: "Web page about the sensor.") var url: String = ""

    func registration(id: String) throws -> LedgerEntry.SensorRegistration {
        LedgerEntry.SensorRegistration(
            sensor: try Parse.sensor(id), owner: try Parse.jid(owner), kind: kind, name: name, unit: unit,
            price: try Parse.amount(price), frequency: frequency,
            lat: try Parse.latitude(lat), lon: try Parse.longitude(lon), url: url)
    }
}
