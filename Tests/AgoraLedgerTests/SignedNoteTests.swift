import AgoraLedger
import Crypto
import Foundation
import Testing

@Suite struct SignedNoteTests {
    let signer = try! NoteSigner(name: "gw1.example/agora", privateKey: Curve25519.Signing.PrivateKey())

    @Test(arguments: 0..<32)
    func verifierKeyHasTheSignedNoteFormAndRoundTrips(_ attempt: Int) throws {
        // Fresh keys each time: some base64 encodings contain "+", the field separator.
        let signer = try NoteSigner(name: "gw1.example/agora", privateKey: Curve25519.Signing.PrivateKey())
        let text = signer.verifier.description
        let parts = text.split(separator: "+", maxSplits: 2)
        #expect(parts.count == 3)
        #expect(parts[0] == "gw1.example/agora")
        #expect(parts[1].count == 8)
        let raw = Data(base64Encoded: String(parts[2]))!
        #expect(raw.count == 33 && raw.first == 0x01)
        // Key ID = SHA-256(name ‖ "\n" ‖ 0x01 ‖ key)[:4], computed here independently.
        let id = SHA256.hash(data: Array("gw1.example/agora\n".utf8) + Array(raw)).prefix(4).map { String(format: "%02x", $0) }.joined()
        #expect(String(parts[1]) == id)
        #expect(try NoteVerifier(parsing: text) == signer.verifier)
    }

    @Test func signedCheckpointOpensWithItsKeyOnly() throws {
        let checkpoint = Checkpoint(origin: "gw1.example/agora", size: 42, root: Array(repeating: 7, count: 32))
        let note = try checkpoint.signed(by: signer).serialized
        #expect(note.hasPrefix("gw1.example/agora\n42\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n\n\u{2014} gw1.example/agora "))
        #expect(try Checkpoint.open(note, verifier: signer.verifier) == checkpoint)

        let stranger = try NoteSigner(name: "gw1.example/agora", privateKey: Curve25519.Signing.PrivateKey())
        #expect(throws: LedgerError.self) { try Checkpoint.open(note, verifier: stranger.verifier) }
        let altered = note.replacingOccurrences(of: "\n42\n", with: "\n43\n")
        #expect(throws: LedgerError.self) { try Checkpoint.open(altered, verifier: signer.verifier) }
    }

    @Test(arguments: ["", "no blank line\n", "a\n\nnot a signature\n", "a\n\n\u{2014} name !!!\n", "gw\n\n\u{2014} gw AAAA\n"])
    func malformedNotesAreRefused(_ note: String) {
        #expect(throws: LedgerError.self) { try Checkpoint.open(note, verifier: signer.verifier) }
    }

    @Test(arguments: ["", "name+1234+AAAA", "name+zzzzzzzz+" + String(repeating: "A", count: 44), "a b+00000000+AAAA", "only-a-name"])
    func malformedVerifierKeysAreRefused(_ text: String) {
        #expect(throws: LedgerError.self) { try NoteVerifier(parsing: text) }
    }
}
