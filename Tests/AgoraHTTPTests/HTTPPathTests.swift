import Testing
@testable import AgoraHTTP

@Suite struct HTTPPathTests {
    @Test func aPlainPathAndItsQueryAreDecoded() throws {
        let parsed = try #require(HTTPPath.parse("/api/over%20view?a=1&b=two+words&c=%26"))
        #expect(parsed.path == "/api/over view")
        #expect(parsed.query.map { "\($0.0)=\($0.1)" } == ["a=1", "b=two words", "c=&"])
    }

    @Test(arguments: ["/../etc/passwd", "/a/../b", "/%2e%2e/etc/passwd", "/a/%2E%2E", "/a/./b", "/a%2fb", "/a%2Fb",
                      "/a\\b", "/a%5cb", "/a%00b", "/%zz", "/%4", "http://example.com/", "*", "", "/a%0d%0aSet-Cookie:x"])
    func targetsThatCouldClimbOrSmuggleAreRefused(_ target: String) {
        #expect(HTTPPath.parse(target) == nil)
    }

    @Test func formFieldsDecodePlusAsSpaceAndSkipBrokenPairs() {
        let pairs = HTTPPath.decodePairs(Array("account=alice%40gw&password=a+b%2Bc&bad=%zz&empty=".utf8)[...])
        #expect(pairs.map { "\($0.0)=\($0.1)" } == ["account=alice@gw", "password=a b+c", "empty="])
    }
}
