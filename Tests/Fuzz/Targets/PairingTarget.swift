@testable import AgoraApp
import AgoraCore
@testable import AgoraMarket
import AgoraStore

/// `pairing`: the bytes are the payload a sensor publishes on `agora/pair/air-9/request`,
/// handled by the real `PairingResponder` of the fuzz gateway.
///
/// The invitation for `air-9` uses the fixed code `FUZZ-CODE-FUZZ-CODE-FUZZ`, so corpus
/// requests can carry a valid proof; it is put back whenever a request consumed it, so every
/// input reaches the CSR policy and the proof check (after the first pairing, a valid request
/// is refused because the sensor exists).
///
/// Invariants: no crash; every outcome is a response with status `ok` (with certificate and
/// CA) or `error` (with a reason), and encodes as the JSON that is published.
final class PairingTarget: Sendable {
    static let shared = PairingTarget()
    static let code = "FUZZ-CODE-FUZZ-CODE-FUZZ"
    static let sensorID = "air-9"

    let gateway: Gateway
    let service: PairingResponder
    let invitationRow: [UInt8]

    private init() {
        let fuzz = FuzzGateway.shared
        gateway = fuzz.gateway
        do {
            service = try PairingResponder(gateway: gateway)
            let registration = LedgerEntry.SensorRegistration(
                sensor: try SensorID(Self.sensorID), owner: fuzz.bob, kind: "pm25", name: "Air 9", unit: "ug/m3",
                price: try Credits(1), frequency: 60, lat: nil, lon: nil, url: "")
            let invitation = PairingInvitation(registration: registration, key: Hex.encode(PairingInvitation.proofKey(code: Self.code)),
                                               expires: try Timestamp(seconds: 253_402_300_000))
            invitationRow = try CanonicalJSON.encode(invitation)
            try restoreInvitation()
        } catch {
            fatalError("the pairing target could not be set up: \(error)")
        }
    }

    func restoreInvitation() throws {
        let tables = gateway.store.tables
        let key = PairingInvitation.tableKey(try SensorID(Self.sensorID))
        let row = invitationRow
        try blocking { [gateway] in try await gateway.store.write { txn in try txn.put(tables.pairing, key, row) } }
    }

    func run(_ input: UnsafeRawBufferPointer) -> [String] {
        let payload = Array(input)
        let response: PairingResponder.Response
        do { response = try blocking { [service] in await service.handle(sensorID: Self.sensorID, payload: payload) } } catch {
            return ["handle threw \(error)"]
        }
        var problems: [String] = []
        switch response.status {
        case "ok":
            if response.cert == nil || response.ca == nil || response.reason != nil { problems.append("an ok response without its certificate and CA") }
            do { try restoreInvitation() } catch { problems.append("the invitation could not be put back: \(error)") }
        case "error":
            if (response.reason ?? "").isEmpty || response.cert != nil { problems.append("an error response without a reason") }
        default:
            problems.append("a response with status \(response.status)")
        }
        if (try? CanonicalJSON.encode(response)) == nil { problems.append("the response does not encode") }
        return problems
    }
}
