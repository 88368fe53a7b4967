public import AgoraCore
public import AgoraLedger
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
        var commits: [UInt64: LedgerEntry.ReadingsCommit] = [:]
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
                let item = try Self.verified(row, sensor: sensor, receipts: receipts, verifier: verifier, commits: &commits, keepProofs: keepProofs)
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

    /// Checks one `<r/>`. `commits` caches the commit entries whose receipts have verified,
    /// so each receipt's signature is checked once, not once per reading.
    static func verified(_ row: XMLElement, sensor: SensorID, receipts: [UInt64: Receipt], verifier: NoteVerifier,
                         commits: inout [UInt64: LedgerEntry.ReadingsCommit], keepProofs: Bool) throws(XMPPClientError) -> Item {
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
            let entry: LedgerEntry.ReadingsCommit
            if let known = commits[commit] {
                entry = known
            } else {
                guard case .readingsCommit(let decoded) = try LedgerEntry(decoding: try receipt.verify(with: verifier)).body else {
                    throw XMPPClientError.verification("entry \(commit) is not a readings.commit")
                }
                guard decoded.sensor == sensor else { throw XMPPClientError.verification("commit \(commit) is not of sensor \(sensor)") }
                entry = decoded
                commits[commit] = decoded
            }
            // The record and its path lead to the commit's root (RFC 9162, `SHA-256(0x00 ‖ record)`).
            guard let bytes = Data(base64Encoded: record), let root = Data(base64Encoded: entry.root), UInt64(entry.count) == size else {
                throw XMPPClientError.verification("the reading at \(t) has an unreadable record, or a batch size other than its commit's")
            }
            let hashes = try path.map { text throws(XMPPClientError) -> [UInt8] in
                guard let hash = Data(base64Encoded: text), hash.count == TreeHash.size else { throw .verification("a bad hash in the path of the reading at \(t)") }
                return Array(hash)
            }
            guard MerkleProofs.verifyInclusion(leafHash: TreeHash.leaf(bytes), index: leaf, size: size, proof: hashes, root: Array(root)) else {
                throw XMPPClientError.verification("the reading at \(t) is not in the batch commit \(commit) sealed")
            }
            proven = try Reading(canonical: Array(bytes))
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
