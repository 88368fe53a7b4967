@testable import AgoraFuzzTargets
import AgoraXMPP
import Foundation
import Testing

/// Replays every seed (`Tests/Fuzz/Corpus/<target>/`) and every input a fuzzer once crashed
/// on (`Tests/Fuzz/Regressions/<target>/`) through the same entry points the libFuzzer
/// executables call, in the ordinary debug build: what was found stays fixed.
///
/// A crash in the code under test crashes this test process, which fails the run; a broken
/// invariant fails the test with the input's name.
@Suite(.serialized) struct FuzzRegressionTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fuzz")

    static func inputs(_ kind: String, _ target: FuzzTarget) -> [URL] {
        let directory = root.appendingPathComponent(kind).appendingPathComponent(target.rawValue)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted().map { directory.appendingPathComponent($0) }
    }

    /// Runs on a thread of its own: the stateful targets block while async work completes,
    /// which must not happen on a Swift-concurrency thread.
    static func replay(_ target: FuzzTarget, _ file: URL) async throws -> [String] {
        let bytes = try [UInt8](Data(contentsOf: file))
        return await withCheckedContinuation { continuation in
            let thread = Thread { continuation.resume(returning: target.run(bytes)) }
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    @Test(arguments: FuzzTarget.allCases)
    func everySeedRunsCleanly(_ target: FuzzTarget) async throws {
        let files = Self.inputs("Corpus", target)
        #expect(files.count >= 4, "\(target.rawValue) needs a seed corpus in Tests/Fuzz/Corpus/\(target.rawValue)")
        for file in files {
            let problems = try await Self.replay(target, file)
            #expect(problems.isEmpty, "\(target.rawValue)/\(file.lastPathComponent): \(problems.joined(separator: "; "))")
        }
    }

    @Test(arguments: FuzzTarget.allCases)
    func everyInputThatOnceFailedRunsCleanly(_ target: FuzzTarget) async throws {
        for file in Self.inputs("Regressions", target) {
            let problems = try await Self.replay(target, file)
            #expect(problems.isEmpty, "\(target.rawValue)/\(file.lastPathComponent): \(problems.joined(separator: "; "))")
        }
    }

    /// The checks can fail: output that is not well-formed, an element the writer cannot
    /// reproduce (two texts in a row read back as one) and an IQ without a reply are reported.
    @Test func theInvariantChecksReportWhatTheyAreFor() {
        let broken = Array("<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'><iq></message>".utf8)
        #expect(XMPPC2STarget.wellFormed(broken).count == 1)
        let fine = Array("<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'><iq/>".utf8)
        #expect(XMPPC2STarget.wellFormed(fine + fine).isEmpty)
        let twoTexts = XMLElement("body", namespace: "jabber:client", children: [.text("a"), .text("b")])
        #expect(XMPPStreamTarget.roundTrip(twoTexts) != nil)
        #expect(XMPPStreamTarget.roundTrip(XMLElement("body", namespace: "jabber:client", text: "a & b")) == nil)
        let header = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"
        let asked = Array((header + "<iq type='get' id='q1'><ping xmlns='urn:xmpp:ping'/></iq><iq type='get' id='q2' to='a@b/c'/>").utf8)
        #expect(XMPPC2STarget.unanswered(asked, Array((header + "<iq type='result' id='q1'/>").utf8)).isEmpty)
        #expect(XMPPC2STarget.unanswered(asked, Array((header + "<iq type='result' id='other'/>").utf8)).count == 1)
    }
}
