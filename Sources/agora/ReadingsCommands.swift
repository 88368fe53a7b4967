import AgoraApp
import AgoraCore
import AgoraMarket
import AgoraMQTT
import AgoraReadings
import ArgumentParser
import FoundationEssentials

struct Readings: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Export readings, prove one against the ledger, or ingest a SenML pack by hand.",
        subcommands: [Export.self, Prove.self, Ingest.self]
    )

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a sensor's readings in [from, to), in time order.")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Sensor id.") var sensor: String
        @Option(help: "Window start, RFC 3339 (fractional seconds allowed).") var from: String?
        @Option(help: "Window end (exclusive), RFC 3339.") var to: String?
        @Option(help: "csv or json (json: the stored canonical records with their salts, times in integer nanoseconds).") var format: String

        func run() async throws {
            let sensor = try Parse.sensor(sensor)
            guard format == "csv" || format == "json" else { throw CLIUsageError(description: "--format must be csv or json") }
            let from = try self.from.map(Parse.readingTime) ?? 0
            let to = try self.to.map(Parse.readingTime) ?? .max
            let records = try await global.withGateway(unlockKeys: false) { gateway in
                try gateway.readings(of: sensor, from: from, to: to)
            }
            if format == "json" {
                // The stored records as they are hashed (salt included), so a batch root can be recomputed from them.
                print("[" + records.map { String(decoding: $0, as: UTF8.self) }.joined(separator: ",") + "]")
            } else {
                print("time,name,unit,kind,value,sum")
                for bytes in records { print(CSV.row(try Reading(canonical: bytes))) }
            }
        }
    }

    struct Prove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a reading with its Merkle path in its batch and the ledger receipt of the batch's readings.commit (JSON).")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Sensor id.") var sensor: String
        @Option(help: "The reading's exact time, RFC 3339 with its fractional seconds.") var time: String

        func run() async throws {
            let sensor = try Parse.sensor(sensor)
            let time = try Parse.readingTime(self.time)
            let proof = try await global.withGateway { gateway in try await gateway.proveReading(of: sensor, at: time) }
            print(try JSONOutput.line(proof))
        }
    }

    struct Ingest: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Store a SenML JSON pack for a sensor, as if it had arrived over MQTT (operator backfill; a readings.commit entry).")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Sensor id.") var sensor: String
        @Argument(help: "SenML JSON pack file ('-' for stdin).") var file: String

        func run() async throws {
            let sensor = try Parse.sensor(sensor)
            let payload = try InputFile.read(file, limit: SenMLPack.maxSize)
            let now = Timestamp.now().seconds * 1_000_000_000
            let readings = try SenMLPack.decode(payload, now: now)
            let outcome = try await global.withGateway { gateway in
                try await gateway.ingest(readings, of: sensor)
            }
            switch outcome {
            case .committed(let index, let count)?: print("stored \(count) readings of \(sensor) (readings.commit at ledger entry \(index))")
            case .alreadyStored(let count)?: print("all \(count) readings of \(sensor) were stored before; nothing new")
            case .frozen?: throw MarketRefusal.sensorFrozen(sensor)
            case .revoked?: throw MarketRefusal.forbidden("every certificate of sensor \(sensor) is revoked; its readings are refused")
            case .unknownSensor?, nil: throw MarketRefusal.unknownSensor(sensor)
            }
        }
    }
}

/// RFC 4180 rows: fields with a comma, quote or line break are quoted, quotes doubled.
enum CSV {
    static func row(_ r: Reading) -> String {
        let (kind, value): (String, String) = switch r.value {
        case .number(let v): ("v", v.description)
        case .string(let v): ("vs", v)
        case .boolean(let v): ("vb", v ? "true" : "false")
        case .data(let v): ("vd", v)
        }
        return [Reading.formatTime(r.time), r.name, r.unit, kind, value, r.sum.map(\.description) ?? ""].map(field).joined(separator: ",")
    }

    static func field(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0.isNewline }) else { return text }
        return "\"" + text.split(separator: "\"", omittingEmptySubsequences: false).joined(separator: "\"\"") + "\""
    }
}
