internal import AgoraCore
internal import AgoraLedger
internal import AgoraMarket
internal import AgoraXMPP
internal import FoundationEssentials

/// `urn:agora:ledger:1`: the verifiable log, for clients that check the gateway instead of
/// trusting it. Checkpoints and proofs are hashes and open to every account; entries and
/// receipts carry the entry itself and follow `AccessPolicy.mayReadEntry`.
///
/// That split is what keeps proofs private: an audit path hands out the leaf hashes of
/// neighbouring entries, and a version-2 entry hashes a random salt that travels only
/// inside the entry bytes — so an account refused the entry holds a hash it cannot
/// brute-force (DESIGN.md "Ledger entry privacy"; `LedgerEntry`, `Salt`).
///
///     get <checkpoint/>                    → <checkpoint size='N'>signed note</checkpoint>
///     get <entry index='i'/>               → <entry index='i'>base64 entry</entry>
///     get <inclusion index='i' [size='n']/> → <inclusion index='i' size='n'><hash>base64</hash>…</inclusion>
///     get <consistency old='m' [new='n']/>  → <consistency old='m' new='n'><hash>…</hash>…</consistency>
///     get <receipt index='i'/>             → <receipt index='i'>receipt JSON</receipt>
///     get <log-key/>                       → <log-key origin='o' key='vkey'><receipt index='0'>…</receipt></log-key>
///
/// The log's verifier key is also in the server's disco#info, as XEP-0128 extended
/// information (`FORM_TYPE` urn:agora:ledger:1, fields `origin` and `log-key`), so a client
/// learns it without knowing this namespace. Either way it comes from the gateway itself:
/// PROTOCOL.md says how a consumer pins it (out of band, or on first use).
/// Sizes default to the latest signed checkpoint, so the proofs verify against a note the
/// client can check.
enum LedgerIQ {
    static let namespace = "urn:agora:ledger:1"

    static func register(into iq: inout IQRouter, context: IQContext) {
        if let genesis = try? genesis(context) {
            iq.extendDiscoInfo(with: DataForm.result(formType: namespace, fields: [
                (name: "origin", value: genesis.origin), (name: "log-key", value: genesis.logKey),
            ]))
        }
        iq.register(namespace, forRemote: true) { request in  // remote accounts: the same rules as local ones
            guard !request.isSet else { return .error(StanzaError(.badRequest, "\(namespace) is get only")) }
            let payload = IQPayload(request.payload)
            return context.now {
                switch request.payload.name {
                case "checkpoint": try checkpoint(witnessed: payload.element[attribute: "witnessed"] == "true", context)
                case "entry": try entry(payload, reader: request.account, context)
                case "inclusion": try inclusion(payload, context)
                case "consistency": try consistency(payload, context)
                case "receipt": try receipt(payload, reader: request.account, context)
                case "log-key": try logKey(context)
                case let name: throw StanzaError(.badRequest, "\(namespace) has no <\(name)/>; see PROTOCOL.md")
                }
            }
        }
    }

    private static func latest(_ context: IQContext) throws -> (size: UInt64, note: String) {
        guard let latest = try context.store.read({ try context.ledger.latestCheckpoint(in: $0) }) else {
            throw StanzaError(.itemNotFound, "no checkpoint has been signed yet")
        }
        return latest
    }

    /// The newest signed checkpoint; with `witnessed='true'`, the best checkpoint that
    /// witnesses have cosigned (its note carries their cosignature lines).
    private static func checkpoint(witnessed: Bool, _ context: IQContext) throws -> XMLElement {
        let latest: (size: UInt64, note: String)
        if witnessed {
            guard let cosigned = try context.store.read({ try context.ledger.witnessedCheckpoint(covering: 0, in: $0) }) else {
                throw StanzaError(.itemNotFound, "no checkpoint has been cosigned by witnesses yet")
            }
            latest = cosigned
        } else {
            latest = try Self.latest(context)
        }
        return XMLElement("checkpoint", namespace: namespace, attributes: [.init("size", String(latest.size))], text: latest.note)
    }

    private static func entry(_ payload: IQPayload, reader: BareJID, _ context: IQContext) throws -> XMLElement {
        let index = try payload.index("index")
        let bytes = try readableEntry(index, reader: reader, context)
        return XMLElement("entry", namespace: namespace, attributes: [.init("index", String(index))],
                          text: Data(bytes).base64EncodedString())
    }

    private static func receipt(_ payload: IQPayload, reader: BareJID, _ context: IQContext) throws -> XMLElement {
        let index = try payload.index("index")
        _ = try readableEntry(index, reader: reader, context)
        return receiptElement(try context.store.read { try context.ledger.receipt(for: index, in: $0) })
    }

    /// The genesis entry's body: the log names its own origin and verifier key there.
    private static func genesis(_ context: IQContext) throws -> LedgerEntry.Genesis {
        let entry = try LedgerEntry(decoding: try context.store.read { try context.ledger.entry(at: 0, in: $0) })
        guard case .genesis(let genesis) = entry.body else { throw StanzaError(.internalServerError, "entry 0 is not the genesis entry") }
        return genesis
    }

    /// The key and, to check it against, the genesis entry's receipt (entry 0 is public: it
    /// holds the origin, the gateway's name, the key and the CA's fingerprint).
    private static func logKey(_ context: IQContext) throws -> XMLElement {
        let genesis = try genesis(context)
        let receipt = try context.store.read { try context.ledger.receipt(for: 0, in: $0) }
        return XMLElement("log-key", namespace: namespace, attributes: [.init("origin", genesis.origin), .init("key", genesis.logKey)],
                          children: [.element(receiptElement(receipt))])
    }

    private static func inclusion(_ payload: IQPayload, _ context: IQContext) throws -> XMLElement {
        let index = try payload.index("index")
        let size = try payload.optionalIndex("size") ?? latest(context).size
        let proof = try context.store.read { txn throws -> [[UInt8]] in
            let total = try context.ledger.size(in: txn)
            guard index < size, size <= total else {
                throw StanzaError(.itemNotFound, "an inclusion proof needs index < size ≤ \(total) (the ledger's size); got index \(index), size \(size)")
            }
            return try context.ledger.tree.inclusionProof(index: index, size: size, in: txn)
        }
        return hashes("inclusion", [.init("index", String(index)), .init("size", String(size))], proof)
    }

    private static func consistency(_ payload: IQPayload, _ context: IQContext) throws -> XMLElement {
        let old = try payload.index("old")
        let new = try payload.optionalIndex("new") ?? latest(context).size
        let proof = try context.store.read { txn throws -> [[UInt8]] in
            let total = try context.ledger.size(in: txn)
            guard 0 < old, old <= new, new <= total else {
                throw StanzaError(.itemNotFound, "a consistency proof needs 0 < old ≤ new ≤ \(total) (the ledger's size); got old \(old), new \(new)")
            }
            return try context.ledger.tree.consistencyProof(oldSize: old, newSize: new, in: txn)
        }
        return hashes("consistency", [.init("old", String(old)), .init("new", String(new))], proof)
    }

    /// The bytes of entry `index`, if `reader` may see them.
    private static func readableEntry(_ index: UInt64, reader: BareJID, _ context: IQContext) throws -> [UInt8] {
        try context.store.read { txn in
            let bytes = try context.ledger.entry(at: index, in: txn)
            let decision = try AccessPolicy.mayReadEntry(try LedgerEntry(decoding: bytes), reader: reader, in: txn, tables: context.store.tables)
            if case .denied(let denial) = decision { throw denial }
            return bytes
        }
    }

    private static func hashes(_ name: String, _ attributes: [XMLElement.Attribute], _ proof: [[UInt8]]) -> XMLElement {
        XMLElement(name, namespace: namespace, attributes: attributes,
                   children: proof.map { .element(XMLElement("hash", namespace: namespace, text: Data($0).base64EncodedString())) })
    }

    static func receiptElement(_ receipt: Receipt) -> XMLElement {
        let json = (try? receipt.json()).map { String(decoding: $0, as: UTF8.self) } ?? ""
        return XMLElement("receipt", namespace: namespace, attributes: [.init("index", String(receipt.index))], text: json)
    }
}
