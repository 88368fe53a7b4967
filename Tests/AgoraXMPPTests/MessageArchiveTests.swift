import AgoraCore
@testable import AgoraXMPP
import AgoraStore
import AgoraTestSupport
import Testing

/// XEP-0313 archives against a real LMDB store: pages forwards and backwards, filters, and
/// the bounds that keep one archive from growing without end.
@Suite struct MessageArchiveTests {
    func chat(_ n: Int, from: String) -> XMLElement {
        XMLElement("message", namespace: Namespace.client, attributes: [.init("type", "chat"), .init("from", from)],
                   children: [.element(XMLElement("body", namespace: Namespace.client, text: "m\(n)"))])
    }

    func bodies(_ page: MessageArchive.Page) -> [String] { page.items.map { $0.message.child("body")?.text ?? "" } }

    func withArchive(maxPerArchive: Int = 1000, maxBytes: Int = 32 << 20, _ body: (MessageArchive, ServerWork) async throws -> Void) async throws {
        let dir = try TemporaryDirectory("agora-archive")
        defer { dir.remove() }
        let store = try Store(path: dir.file("agora.mdb"), logger: testLogger())
        defer { store.close() }
        let work = ServerWork()
        let archive = MessageArchive(store: store, settings: .init(retentionDays: 30, maxPerArchive: maxPerArchive, maxBytesPerArchive: maxBytes),
                                     logger: testLogger())
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await work.run() }
            try await body(archive, work)
            _ = await work.finish(timeout: .seconds(5))
            group.cancelAll()
        }
    }

    @Test func pagesGoForwardsAfterAnIdAndBackwardsFromTheNewestAndFiltersHold() async throws {
        try await withArchive { archive, work in
            for n in 0..<30 {
                let withBob = n % 3 != 0
                archive.record(chat(n, from: withBob ? "bob@gw.test/x" : "carol@gw.test/y"),
                               for: [("alice@gw.test", withBob ? "bob@gw.test" : "carol@gw.test"), ("zed@gw.test", "q@gw.test")], work: work)
            }
            // Another archive sorting right after alice's must not leak into her pages.
            archive.record(chat(99, from: "x@gw.test"), for: [("alice@gw.test0", "x@gw.test")], work: work)
            await archive.flushed()
            var query = MessageArchive.Query()
            query.max = 10
            let first = try archive.page(of: "alice@gw.test", query)
            #expect(bodies(first) == (0..<10).map { "m\($0)" } && !first.complete)
            query.after = first.items.last?.id
            let second = try archive.page(of: "alice@gw.test", query)
            #expect(bodies(second) == (10..<20).map { "m\($0)" })
            var newest = MessageArchive.Query()
            newest.max = 4
            newest.lastPage = true
            let last = try archive.page(of: "alice@gw.test", newest)
            #expect(bodies(last) == ["m26", "m27", "m28", "m29"])
            newest.lastPage = false
            newest.before = last.items.first?.id
            #expect(bodies(try archive.page(of: "alice@gw.test", newest)) == ["m22", "m23", "m24", "m25"])
            var carol = MessageArchive.Query()
            carol.with = try JID(parsing: "carol@gw.test")
            let fromCarol = try archive.page(of: "alice@gw.test", carol)
            #expect(bodies(fromCarol) == stride(from: 0, to: 30, by: 3).map { "m\($0)" } && fromCarol.complete)
            var empty = MessageArchive.Query()
            empty.lastPage = true
            #expect(try archive.page(of: "nobody@gw.test", empty).items.isEmpty)
        }
    }

    @Test func anArchiveKeepsItsNewestMessagesUpToItsBound() async throws {
        try await withArchive(maxPerArchive: 5) { archive, work in
            for n in 0..<12 {
                archive.record(chat(n, from: "bob@gw.test/x"), for: [("alice@gw.test", "bob@gw.test")], work: work)
                if n % 4 == 3 { await archive.flushed() }
            }
            await archive.flushed()
            let all = try archive.page(of: "alice@gw.test", MessageArchive.Query())
            #expect(bodies(all) == (7..<12).map { "m\($0)" })
        }
    }

    @Test func anArchiveKeepsToItsByteBoundAndARemovedOneIsGone() async throws {
        try await withArchive(maxBytes: 10_000) { archive, work in
            let big = String(repeating: "b", count: 2_000)
            for n in 0..<12 {
                archive.record(chat(n, from: "bob@gw.test/x").replacingBody(with: "\(n) \(big)"), for: [("alice@gw.test", "bob@gw.test")], work: work)
                await archive.flushed()
            }
            let kept = try archive.page(of: "alice@gw.test", MessageArchive.Query())
            #expect(kept.items.count == 4, "about 2 100 bytes each under a 10 000-byte bound")
            #expect(kept.items.first?.message.child("body")?.text.hasPrefix("8 ") == true)
            // Larger than a message may be: delivered elsewhere, never archived.
            archive.record(chat(0, from: "bob@gw.test/x").replacingBody(with: String(repeating: "z", count: 70_000)),
                           for: [("carol@gw.test", "bob@gw.test")], work: work)
            await archive.flushed()
            #expect(try archive.page(of: "carol@gw.test", MessageArchive.Query()).items.isEmpty)
            try await archive.remove("alice@gw.test")
            #expect(try archive.page(of: "alice@gw.test", MessageArchive.Query()).items.isEmpty)
        }
    }

    @Test func messagesMarkedNotToBeStoredAndOnesWithoutBodyAreNotArchived() {
        var hinted = chat(1, from: "b@gw.test")
        hinted.append(XMLElement("no-store", namespace: MessageCarbons.hints))
        #expect(!MessageArchive.isArchivable(hinted))
        #expect(!MessageArchive.isArchivable(XMLElement("message", namespace: Namespace.client, attributes: [.init("type", "chat")])))
        #expect(MessageArchive.isArchivable(chat(1, from: "b@gw.test")))
    }
}

extension XMLElement {
    /// A copy whose `<body/>` says `text`.
    func replacingBody(with text: String) -> XMLElement {
        var copy = self
        copy.children = children.map { node in
            if case .element(let element) = node, element.name == "body" { return .element(XMLElement("body", namespace: element.namespace, text: text)) }
            return node
        }
        return copy
    }
}
