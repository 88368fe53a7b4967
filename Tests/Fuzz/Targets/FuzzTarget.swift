/// The fuzz targets of issue 8: each a plain function of bytes, run by the libFuzzer
/// executables in `Fuzz/` and replayed over the committed corpora and crash inputs by
/// `FuzzRegressionTests` in the ordinary debug build.
///
/// A target returns the invariants the input broke (beyond crashing, which is the other
/// way to fail): the fuzzer executables trap on any, the regression tests expect none.
/// Inputs that are refused with a clear error are the expected case, not a finding.
///
/// Built with `@testable` imports (the c2s handler and the pairing invitation are internal),
/// so this target compiles only where testability is on: debug builds, or `-enable-testing`.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// Bytes of a client stream through the expat parser (in fuzzer-chosen slices), the
    /// negotiation state machine in every phase, and the writer: what it writes must parse
    /// back to the same element.
    case xmppStream = "xmpp-stream"
    /// Bytes of a client stream through the real pipeline (`XMPPStreamDecoder` →
    /// `C2SConnection` → router → every IQ service) of a gateway with accounts, a sensor and
    /// readings; whatever the server writes back must be well-formed XML.
    case xmppC2S = "xmpp-c2s"
    /// A SenML pack through `SenMLPack.decode`; each reading's canonical record must read back.
    case senml
    /// A pairing request payload through `PairingResponder.handle`, with a live invitation.
    case pairing
    /// A CSR (PEM or DER) through `CSRPolicy.check` for a sensor and a user; one that passes
    /// must be signable by the CA.
    case csr
    /// A receipt through `Receipt(json:)` and `verify(with:)` against the log key that made
    /// the corpus receipt.
    case receipt
    /// Bytes of one HTTP connection through the listener's pipeline (SwiftNIO's codec and
    /// `HTTPRequestAssembler`); what reaches a route must be within the limits.
    case httpRequest = "http-request"
    /// A C2SP `add-checkpoint` body through `AddCheckpointRequest` and `WitnessCheck`, as a
    /// new witness and as one that cosigned the corpus log's checkpoint.
    case addCheckpoint = "add-checkpoint"

    /// The largest input worth generating (`-max_len`): a little above each decoder's limit,
    /// so the limit itself is reached.
    public var maxLength: Int {
        switch self {
        case .xmppStream: 20_000   // above XMLStreamParser.sliceBytes (16 KiB), so slicing is exercised
        case .xmppC2S: 8_192
        case .senml: 66_000        // SenMLPack.maxSize is 64 KiB
        case .pairing: 17_000      // PairingResponder.maxRequestSize is 16 KiB
        case .csr: 8_300           // CSRPolicy.maxSize is 8 KiB
        case .receipt: 8_192       // real receipts are a few hundred bytes; maxSize (256 KiB) is only a guard
        case .httpRequest: 4_096   // the harness's limits: 1 KiB of head, 256 bytes of body
        case .addCheckpoint: 8_192 // 63 proof lines and a note are about 3 KiB; maxSize (64 KiB) is only a guard
        }
    }

    /// Runs one input; returns the broken invariants (empty: nothing found).
    public func run(_ bytes: UnsafeRawBufferPointer) -> [String] {
        switch self {
        case .xmppStream: XMPPStreamTarget.run(bytes)
        case .xmppC2S: XMPPC2STarget.shared.run(bytes)
        case .senml: SenMLTarget.run(bytes)
        case .pairing: PairingTarget.shared.run(bytes)
        case .csr: CSRTarget.shared.run(bytes)
        case .receipt: ReceiptTarget.shared.run(bytes)
        case .httpRequest: HTTPRequestTarget.run(bytes)
        case .addCheckpoint: AddCheckpointTarget.run(bytes)
        }
    }

    public func run(_ bytes: [UInt8]) -> [String] {
        bytes.withUnsafeBytes { run($0) }
    }

    /// The libFuzzer entry: runs `bytes` and traps on a broken invariant, so libFuzzer saves
    /// the input as a crash.
    public func fuzz(_ data: UnsafePointer<UInt8>?, _ count: Int) -> Int32 {
        let problems = run(UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : count))
        if !problems.isEmpty {
            fatalError("\(rawValue): " + problems.joined(separator: "; "))
        }
        return 0
    }
}
