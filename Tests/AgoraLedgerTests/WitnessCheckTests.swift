import AgoraLedger
import Crypto
import Foundation
import Testing

/// The C2SP witness formats byte for byte against the spec's own examples, and the checks a
/// witness makes before it cosigns, each refusal with the status the spec gives.
@Suite struct WitnessCheckTests {
    // The example request body of https://c2sp.org/tlog-witness, "add-checkpoint".
    static let specRequest = """
        old 20852014
        PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=
        jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=
        5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=
        /6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=

        example.com/behind-the-sofa
        20852163
        CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=

        — example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=
        — example.com/behind-the-sofa opLqBQsREYCgu6xQkYQwJr9fo45a62DN9EdmHXnZdXNqlcVGlCum2Wks+49/V6267UEjw6QUXTS5Rovnzv++qbSzm9Q=

        """

    @Test func theSpecsExampleRequestParsesAndSerializesByteForByte() throws {
        let request = try AddCheckpointRequest(parsing: Array(Self.specRequest.utf8))
        #expect(request.oldSize == 20852014)
        #expect(request.proof.count == 4)
        #expect(request.checkpoint.hasPrefix("example.com/behind-the-sofa\n20852163\n"))
        #expect(try SignedNote(parsing: request.checkpoint).signatures.count == 2)
        #expect(request.body == Array(Self.specRequest.utf8))
    }

    @Test(arguments: [
        "old 012\n\nx\n", "old -1\n\nx\n", "old 5\nnot-base64!\n\nx\n", "new 5\n\nx\n", "old 5\nAAAA\n\nx\n", "old 5\n",
    ])
    func aMalformedRequestIsRefusedBeforeAnythingElse(_ body: String) {
        #expect(throws: LedgerError.self) { try AddCheckpointRequest(parsing: Array(body.utf8)) }
    }

    @Test func moreThan63ProofLinesAreRefused() {
        let line = Data(repeating: 1, count: 32).base64EncodedString()
        let body = "old 1\n" + String(repeating: line + "\n", count: 64) + "\nx\n"
        #expect(throws: LedgerError.self) { try AddCheckpointRequest(parsing: Array(body.utf8)) }
    }

    @Test func theCosignedMessageIsTheSpecsAndTheKeyHasTheCosignatureType() throws {
        let cosigner = try Cosigner(name: "witness.example.com/w1", rawPrivateKey: Array(Curve25519.Signing.PrivateKey().rawRepresentation))
        let text = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
        let signature = try cosigner.cosign(text, time: 1679315147)
        // timestamped_signature: u64 big-endian time, then the 64-byte Ed25519 signature over
        // the spec's example message, checked here with CryptoKit directly.
        #expect(signature.bytes.count == 72)
        #expect(Array(signature.bytes.prefix(8)) == [0, 0, 0, 0, 0x64, 0x18, 0x50, 0xCB])
        let vkey = cosigner.verifier.description
        let raw = Array(Data(base64Encoded: String(vkey.split(separator: "+", maxSplits: 2)[2]))!)
        #expect(raw.count == 33 && raw[0] == 0x04)
        let key = try Curve25519.Signing.PublicKey(rawRepresentation: raw.dropFirst())
        let message = "cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
        #expect(key.isValidSignature(signature.bytes.dropFirst(8), for: Array(message.utf8)))
        let id = SHA256.hash(data: Array("witness.example.com/w1\n".utf8) + raw).prefix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        #expect(cosigner.verifier.keyID == id)
        #expect(try CosignerVerifier(parsing: vkey) == cosigner.verifier)
        #expect(throws: LedgerError.self, "a log key is not a witness key") {
            try CosignerVerifier(parsing: try NoteSigner(name: "x", privateKey: .init()).verifier.description)
        }
        #expect(cosigner.verifier.cosignatureTime(of: text, among: [signature]) == 1679315147)
        #expect(cosigner.verifier.cosignatureTime(of: text.replacingOccurrences(of: "20852163", with: "20852164"), among: [signature]) == nil)
    }

    // MARK: The checks

    let log = try! NoteSigner(name: "gw1.example/agora", privateKey: .init())
    let leaves = (0..<40).map { TreeHash.leaf(Array("entry \($0)".utf8)) }

    func checkpoint(_ size: Int, leaves: [[UInt8]]? = nil, signer: NoteSigner? = nil) throws -> String {
        let all = leaves ?? self.leaves
        return try Checkpoint(origin: "gw1.example/agora", size: UInt64(size), root: MerkleProofs.root(ofLeafHashes: all[..<size]))
            .signed(by: signer ?? log).serialized
    }

    func proof(_ old: Int, _ new: Int, leaves: [[UInt8]]? = nil) -> [[UInt8]] {
        let all = leaves ?? self.leaves
        return MerkleProofs.consistency(oldSize: UInt64(old), newSize: UInt64(new)) { MerkleProofs.root(ofLeafHashes: all[Int($0)..<Int($1)]) }
    }

    func check(_ request: AddCheckpointRequest, known: WitnessCheck.LogState?) throws -> Result<WitnessCheck.Accepted, WitnessCheck.Refusal> {
        try WitnessCheck.check(request, keys: { $0 == "gw1.example/agora" ? [log.verifier] : nil }, latest: { _ in known })
    }

    func state(_ size: Int) -> WitnessCheck.LogState {
        .init(size: UInt64(size), root: MerkleProofs.root(ofLeafHashes: leaves[..<size]))
    }

    @Test func aConsistentCheckpointIsAcceptedFromNothingAndFromTheKnownSize() throws {
        let first = try check(.init(oldSize: 0, proof: [], checkpoint: checkpoint(10)), known: nil).get()
        #expect(first.state == state(10))
        let next = try check(.init(oldSize: 10, proof: proof(10, 25), checkpoint: checkpoint(25)), known: state(10)).get()
        #expect(next.state == state(25))
        #expect(throws: Never.self) { try check(.init(oldSize: 25, proof: [], checkpoint: checkpoint(25)), known: state(25)).get() }
    }

    @Test func eachRefusalHasTheSpecsStatus() throws {
        func refusal(_ request: AddCheckpointRequest, known: WitnessCheck.LogState?) throws -> WitnessCheck.Refusal? {
            if case .failure(let refusal) = try check(request, known: known) { return refusal }
            return nil
        }
        // Unknown origin: 404.
        let stranger = try NoteSigner(name: "gw9.example/agora", privateKey: .init())
        let foreign = try Checkpoint(origin: "gw9.example/agora", size: 1, root: leaves[0]).signed(by: stranger).serialized
        #expect(try refusal(.init(oldSize: 0, proof: [], checkpoint: foreign), known: nil)?.status == 404)
        // The right origin signed by another key: 403.
        let forger = try NoteSigner(name: "gw1.example/agora", privateKey: .init())
        #expect(try refusal(.init(oldSize: 0, proof: [], checkpoint: checkpoint(5, signer: forger)), known: nil)?.status == 403)
        // Old size beyond the checkpoint: 400.
        #expect(try refusal(.init(oldSize: 30, proof: [], checkpoint: checkpoint(25)), known: state(30))?.status == 400)
        // Not the size the witness knows: 409, with that size as text/x.tlog.size.
        let conflict = try #require(try refusal(.init(oldSize: 5, proof: proof(5, 25), checkpoint: checkpoint(25)), known: state(10)))
        #expect(conflict.status == 409 && conflict.body == "10\n" && conflict.contentType == "text/x.tlog.size")
        // A proof that does not verify: 422.
        var bad = proof(10, 25)
        bad[0][0] ^= 1
        #expect(try refusal(.init(oldSize: 10, proof: bad, checkpoint: checkpoint(25)), known: state(10))?.status == 422)
        // Same size, another root: 409.
        var forked = leaves
        forked[3] = TreeHash.leaf(Array("another entry".utf8))
        let fork = try #require(try refusal(.init(oldSize: 10, proof: [], checkpoint: checkpoint(10, leaves: forked)), known: state(10)))
        #expect(fork.status == 409 && fork.reason == .forked && fork.body == "10\n")
        // A fork that grew past what the witness saw: its own proof does not lead from the known root: 422.
        #expect(try refusal(.init(oldSize: 10, proof: proof(10, 30, leaves: forked), checkpoint: checkpoint(30, leaves: forked)), known: state(10))?.status == 422)
        // Garbage where the note should be: 400.
        #expect(try refusal(.init(oldSize: 0, proof: [], checkpoint: "hello\n"), known: nil)?.status == 400)
    }

    @Test func aReceiptCountsOnlyValidCosignaturesOfTheWitnessesGiven() throws {
        let witnesses = try (1...3).map { try Cosigner(name: "gw\($0).example/witness", rawPrivateKey: Array(Curve25519.Signing.PrivateKey().rawRepresentation)) }
        let entries = (0..<8).map { Array("entry \($0)".utf8) }
        let hashes = entries.map { TreeHash.leaf($0) }
        let note = try SignedNote(parsing: try Checkpoint(origin: "gw1.example/agora", size: 8, root: MerkleProofs.root(ofLeafHashes: hashes[...])).signed(by: log).serialized)
        let cosigned = note.adding([try witnesses[0].cosign(note.text, time: 100), try witnesses[1].cosign(note.text, time: 101)])
        let tree = MemoryMerkleTree(leafHashes: hashes)
        let receipt = Receipt(index: 3, entry: entries[3], treeSize: 8, inclusion: tree.inclusion(index: 3), checkpoint: cosigned.serialized)
        let verifiers = witnesses.map(\.verifier)
        let result = try receipt.verify(with: log.verifier, witnesses: verifiers, minimum: 2)
        #expect(result.entry == entries[3] && result.cosignedAt.count == 2)
        #expect(throws: LedgerError.self) { try receipt.verify(with: log.verifier, witnesses: verifiers, minimum: 3) }
        // The same witness listed twice counts once.
        #expect(throws: LedgerError.self) { try receipt.verify(with: log.verifier, witnesses: [verifiers[0], verifiers[0]], minimum: 2) }
        // A cosignature over another checkpoint does not count.
        let other = note.adding([try witnesses[2].cosign("gw1.example/agora\n9\n\(Data(hashes[0]).base64EncodedString())\n", time: 5)])
        let replayed = Receipt(index: 3, entry: entries[3], treeSize: 8, inclusion: tree.inclusion(index: 3), checkpoint: other.serialized)
        #expect(throws: LedgerError.self) { try replayed.verify(with: log.verifier, witnesses: [verifiers[2]], minimum: 1) }
    }

    @Test func aJunkLineWithTheLogsNameBeforeTheRealSignatureDoesNotHideIt() throws {
        let note = try SignedNote(parsing: try checkpoint(10))
        let junk = try SignedNote.Signature.parseLines("\u{2014} gw1.example/agora \(Data(withUnsafeBytes(of: log.verifier.keyID.bigEndian) { Array($0) } + Array(repeating: 9, count: 64)).base64EncodedString())\n")
        // Build "junk first, then the real line" by hand: adding() would replace the same key.
        let text = note.text + "\n" + junk[0].line + note.signatures[0].line
        #expect(throws: Never.self) { try check(.init(oldSize: 0, proof: [], checkpoint: text), known: nil).get() }
    }

    @Test func aWitnessThatCosignsAgainReplacesItsLineAndCountsOnce() throws {
        let witness = try Cosigner(name: "gw2.example/witness", rawPrivateKey: Array(Curve25519.Signing.PrivateKey().rawRepresentation))
        let note = try SignedNote(parsing: try checkpoint(10))
        let twice = note.adding([try witness.cosign(note.text, time: 1)]).adding([try witness.cosign(note.text, time: 2)])
        #expect(twice.signatures.count == 2 && twice.signerCount == 2)
        #expect(witness.verifier.cosignatureTime(of: note.text, among: twice.signatures) == 2)
    }
}
