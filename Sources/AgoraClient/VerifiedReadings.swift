public import AgoraCore
public import AgoraLedger
internal import AgoraReadings
internal import AgoraXMPP
internal import FoundationEssentials

/// Reads a window of a sensor's readings (`urn:agora:readings:1`, page by page, always with
/// proofs) and verifies every one before returning any: the record hashes, with its audit
/// path, to the root of a `readings.commit` of this sensor; that commit's receipt verifies
/// under the pinned log key; and the reading the page shows is the one the record holds. A
/// single failure fails the whole read: a consumer must not be shown data it cannot prove.
public struct VerifiedReadings {
    let client: XMPPClient

    public init(client: XMPPClient) { self.client = client }

    /// One reading and what proves it.
    public struct Item: Sendable, Encodable {
        public let t: String
        public let n: String
        public let u: String?
        public let v: Double?
        public let vs: String?
        public let vb: Bool?
        public let vd: String?
        public let s: Double?
        /// The ledger index of the `readings.commit` that sealed it.
        public let commit: UInt64
        /// With `--proofs`: the record, its position and path in the batch.
        public var record: String?
        public var leaf: UInt64?
        public var size: UInt64?
        public var path: [String]?
    }

    /// The readings and the receipts of their commits (verified), in time order.
    public struct Result: Sendable {
        public var items: [Item] = []
        public var receipts: [UInt64: Receipt] = [:]
        public var pages = 0
    }

    /// - Parameters:
    ///   - pageSize: readings per request (the gateway allows up to 1000).
    ///   - progress: called after each page with the readings so far and the pages.
    public func read(sensor: SensorID, from: String, to: String, verifier: NoteVerifier, keepProofs: Bool, pageSize: Int = 500,
                     progress: (Int, Int) -> Void = { _, _ in }) async throws(XMPPClientError) -> Result {
        var result = Result()
        var verifiedCommits: Set<UInt64> = []
        var after: String?
        while true {
            var set = XMLElement("set", namespace: ClientNamespace.rsm, children: [.element(XMLElement("max", namespace: ClientNamespace.rsm, text: String(pageSize)))])
            if let after { set.append(XMLElement("after", namespace: ClientNamespace.rsm, text: after)) }
            let request = XMLElement("readings", namespace: ClientNamespace.readings, attributes: [
                .init("sensor", sensor.rawValue), .init("from", from), .init("to", to), .init("proofs", "true"),
            ], children: [.element(set)])
            guard let page = try await client.request("get", request) else { throw .protocolViolation("an empty readings answer") }
            result.pages += 1
            var receipts: [UInt64: Receipt] = [:]
            for element in page.elements where element.name == "receipt" {
                guard let index = element[attribute: "index"].flatMap({ UInt64($0) }), let receipt = try? Receipt(json: Array(element.text.utf8)) else {
                    throw .verification("an unreadable receipt in the page")
                }
                receipts[index] = receipt
            }
            let rows = page.elements.filter { $0.name == "r" }
            for row in rows {
                let item = try Self.verified(row, sensor: sensor, receipts: receipts, verifier: verifier,
                                             commitAlreadyChecked: { verifiedCommits.contains($0) }, keepProofs: keepProofs)
                verifiedCommits.insert(item.commit)
                if let receipt = receipts[item.commit] { result.receipts[item.commit] = receipt }
                result.items.append(item)
            }
            progress(result.items.count, result.pages)
            let last = page.child("set", namespace: ClientNamespace.rsm)?.child("last", namespace: ClientNamespace.rsm)?.text
            guard page[attribute: "more"] == "true", let last, !rows.isEmpty else { break }
            after = last
        }
        return result
    }

    static func verified(_ row: XMLElement, sensor: SensorID, receipts: [UInt64: Receipt], verifier: NoteVerifier,
                         commitAlreadyChecked: (UInt64) -> Bool, keepProofs: Bool) throws(XMPPClientError) -> Item {
        guard let t = row[attribute: "t"], let n = row[attribute: "n"], let commit = row[attribute: "commit"].flatMap({ UInt64($0) }) else {
            throw .protocolViolation("a reading without t, n or commit")
        }
        guard let record = row[attribute: "record"], let leaf = row[attribute: "leaf"].flatMap({ UInt64($0) }),
              let size = row[attribute: "size"].flatMap({ UInt64($0) }) else {
            throw .verification("the reading at \(t) comes without its proof")
        }
        guard let receipt = receipts[commit] else { throw .verification("no receipt for commit \(commit) of the reading at \(t)") }
        let path = row.elements.filter { $0.name == "hash" }.map(\.text)
        let proven: Reading
        do {
            proven = try ReadingsQuery.Proof(record: record, leafIndex: leaf, batchSize: size, batchProof: path, receipt: receipt).verify(with: verifier)
            if !commitAlreadyChecked(commit) {
                guard case .readingsCommit(let entry) = try LedgerEntry(decoding: try receipt.verify(with: verifier)).body, entry.sensor == sensor else {
                    throw XMPPClientError.verification("commit \(commit) is not of sensor \(sensor)")
                }
            }
        } catch let error as XMPPClientError {
            throw error
        } catch {
            throw .verification("the reading at \(t) does not verify: \(error)")
        }
        let item = Item(t: t, n: n, u: row[attribute: "u"], v: row[attribute: "v"].flatMap(Double.init), vs: row[attribute: "vs"],
                        vb: row[attribute: "vb"].map { $0 == "true" }, vd: row[attribute: "vd"], s: row[attribute: "s"].flatMap(Double.init),
                        commit: commit, record: keepProofs ? record : nil, leaf: keepProofs ? leaf : nil, size: keepProofs ? size : nil,
                        path: keepProofs ? path : nil)
        // What is shown must be what is proven, not merely something that is.
        let shown: Reading.Value? = item.v.map { .number($0) } ?? item.vs.map { .string($0) } ?? item.vb.map { .boolean($0) } ?? item.vd.map { .data($0) }
        guard Reading.formatTime(proven.time) == t, proven.name == n, proven.unit == (item.u ?? ""), shown == proven.value, proven.sum == item.s else {
            throw .verification("the reading shown at \(t) differs from the record its proof covers")
        }
        return item
    }
}
