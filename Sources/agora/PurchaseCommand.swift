import AgoraApp
import AgoraCore
import AgoraLedger
import AgoraMarket
import ArgumentParser

struct Purchase: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Buy a window of a sensor's data on a buyer's behalf (a ledger entry).",
        discussion: "The buyer pays price × ⌈hours⌉ credits to the sensor's owner. A repeated --request-id returns the first purchase and charges nothing."
    )
    @OptionGroup var global: GlobalOptions
    @Option(help: "Bare JID of the buyer.") var buyer: String
    @Option(help: "Sensor id.") var sensor: String
    @Option(help: "Window start, RFC 3339.") var from: String
    @Option(help: "Window end (exclusive), RFC 3339.") var to: String
    @Option(name: .customLong("request-id"), help: "Idempotency key chosen by the client.") var requestID: String?
    @Option(name: .customLong("max-credits"),
            help: "The most the buyer accepts to pay; a higher cost (the owner raised the price) is refused and nothing is charged.")
    var maxCredits: String?
    @Flag(help: "Print JSON, with the ledger receipt of the purchase.") var json = false

    struct Output: Codable {
        let id: String, buyer: String, sensor: String, from: String, to: String
        let amount: UInt64, request: String, ledgerIndex: UInt64, replayed: Bool
        let receipt: Receipt
    }

    func run() async throws {
        let buyer = try Parse.jid(buyer)
        let sensor = try Parse.sensor(sensor)
        let from = try Parse.time(from, field: "--from")
        let to = try Parse.time(to, field: "--to")
        let maxCredits = try self.maxCredits.map { try Parse.amount($0) }
        let (result, receipt) = try await global.withGateway { gateway in
            try await gateway.purchase(buyer: buyer, sensor: sensor, from: from, to: to, requestID: requestID, maxCredits: maxCredits)
        }
        let p = result.record.purchase
        if json {
            print(try JSONOutput.line(Output(id: p.id, buyer: p.buyer.description, sensor: p.sensor.rawValue, from: p.from.rfc3339,
                                             to: p.to.rfc3339, amount: p.amount.value, request: p.request,
                                             ledgerIndex: result.record.ledgerIndex, replayed: result.replayed, receipt: receipt)))
        } else {
            let note = result.replayed ? " (repeated request: nothing charged this time)" : ""
            print("purchase \(p.id): \(p.buyer) paid \(p.amount) credits for \(p.sensor) [\(p.from.rfc3339), \(p.to.rfc3339)) (ledger entry \(result.record.ledgerIndex))\(note)")
        }
    }
}
