import AgoraTestSupport
import Foundation
import Testing

/// Ratings and scores over XMPP (`urn:agora:trust:1`) with `agora client` against `agora
/// serve`: a buyer rates its purchase (the receipt verified by the independent Python
/// verifier), revises it once, is refused a third time; another account cannot rate it; the
/// scores each account sees follow the model; replay rebuilds the ratings.
@Suite(.serialized) struct TrustOverXMPPTests {
    static func purchaseID(_ gateway: XMPPInteropTests.RunningGateway, of user: String) throws -> String {
        let listed = try ClientCommandTests.client(gateway, ["purchases", "--json"], as: user)
        let purchases = try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]] ?? []
        return try #require(purchases.first?["id"] as? String, "\(listed.stdout)\(listed.stderr)")
    }

    @Test func aBuyerRatesItsPurchaseOnceRevisesItOnceAndEveryoneSeesTheScoresTheModelGives() throws {
        let gateway = try ClientCommandTests.gateway()
        defer { gateway.stop() }
        let (from, to) = ClientCommandTests.window
        let client = { (arguments: [String], user: String) in try ClientCommandTests.client(gateway, arguments, as: user) }
        #expect(try client(["buy", "air-1", "--from", from, "--to", to, "--max-credits", "10", "--receipt", gateway.dir.file("purchase.json")], "alice").status == 0)
        let purchase = try Self.purchaseID(gateway, of: "alice")

        // Someone else cannot rate alice's purchase, and learns nothing of it.
        let stranger = try client(["rate", purchase, "--satisfaction", "0", "--weight", "5"], "bob")
        #expect(stranger.status == 1 && stranger.stderr.contains("forbidden") && stranger.stderr.contains("only the buyer"), "\(stranger.stderr)")
        // Bad figures are refused before anything is sent, or by the gateway.
        #expect(try client(["rate", purchase, "--satisfaction", "1.5", "--weight", "3"], "alice").status != 0)
        let heavy = try client(["rate", purchase, "--satisfaction", "0.5", "--weight", "9"], "alice")
        #expect(heavy.status == 1 && heavy.stderr.contains("weight") && heavy.stderr.contains("1 … 5"), "\(heavy.stderr)")

        // Rated: the receipt verifies offline with the independent verifier.
        let receipt = gateway.dir.file("rating.json")
        let rated = try client(["rate", purchase, "--satisfaction", "0.25", "--weight", "3", "--comment", "gaps at night", "--receipt", receipt], "alice")
        #expect(rated.status == 0 && rated.stdout.contains("rated purchase \(purchase)"), "\(rated.stdout)\(rated.stderr)")
        let offline = try runProcess("/usr/bin/python3", [XMPPInteropTests.repository + "/Tests/Interop/verify_receipt.py", receipt, try gateway.cli.logKey()])
        #expect(offline.status == 0, "\(offline.stdout)\(offline.stderr)")

        // Alice's own trust is her rating; bob, who never rated, sees it as reputation.
        func scores(_ user: String, _ extra: [String] = []) throws -> [String: Any] {
            let answer = try client(["scores", "--sensor", "air-1", "--json"] + extra, user)
            return try #require(try JSONSerialization.jsonObject(with: Data(answer.stdout.utf8)) as? [String: Any], "\(answer.stderr)")
        }
        let forAlice = try scores("alice")
        #expect(forAlice["trust"] as? Double == 0.25 && forAlice["ownRatings"] as? Int == 1 && forAlice["reputation"] as? Double == 0)
        let forBob = try scores("bob", ["--weights", "0,1,0,0"])
        // Alice's account was opened moments ago: her weight in others' reputation is ~0, but
        // the figures are μ − σ of one rating, so R is her satisfaction.
        #expect(forBob["ownRatings"] as? Int == 0 && forBob["ratings"] as? Int == 1 && forBob["newcomer"] as? Bool == true)
        #expect((forBob["reputation"] as? Double).map { abs($0 - 0.25) < 1e-9 } == true, "\(forBob)")
        #expect((forBob["dependability"] as? Double).map { abs($0 - 0.25) < 1e-9 } == true, "all weight on R: D is R (\(forBob))")
        #expect(forBob["purchases"] as? Int == 1)

        // One revision, then final.
        let revised = try client(["rate", purchase, "--satisfaction", "0.9", "--weight", "3", "--receipt", gateway.dir.file("revision.json")], "alice")
        #expect(revised.status == 0 && revised.stdout.contains("revised the rating"), "\(revised.stdout)\(revised.stderr)")
        #expect(try scores("alice")["trust"] as? Double == 0.9)
        let third = try client(["rate", purchase, "--satisfaction", "1", "--weight", "3", "--receipt", gateway.dir.file("third.json")], "alice")
        #expect(third.status == 1 && third.stderr.contains("revised at most once"), "\(third.stderr)")

        // Search sorted by dependability: with fewer than 3 ratings each, every sensor is still a
        // newcomer (shown in a drawn order); bob sees air-1 at 0.6 · R (alice's 0.9) + 0.1 · P.
        let sorted = try client(["search", "--kind", "pm25", "--sort", "dependability"], "bob")
        let lines = sorted.stdout.split(separator: "\n")
        #expect(sorted.status == 0 && lines.count == 3, "\(sorted.stdout)\(sorted.stderr)")
        #expect(lines.contains { $0.hasPrefix("air-1\t") && $0.contains("dependability 0.549") }, "\(sorted.stdout)")
        #expect(lines.filter { $0.contains("(not rated yet)") }.count == 2, "\(sorted.stdout)")

        let human = try client(["scores", "--owner", "owner@gw.test"], "alice")
        #expect(human.status == 0 && human.stdout.contains("trust 0.9 from 1 of your ratings"), "\(human.stdout)\(human.stderr)")

        let replay = try gateway.cli.run(["ledger", "verify", "--replay"])
        #expect(replay.status == 0 && replay.stdout.contains("ratings"), "\(replay.stdout)\(replay.stderr)")
    }
}
