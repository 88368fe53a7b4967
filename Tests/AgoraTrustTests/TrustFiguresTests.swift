import AgoraTrust
import Testing

/// μ − σ worked by hand from the definitions, one property per example.
@Suite struct TrustFiguresTests {
    func figures(_ log: [(Double, Double)], fading: Fading = .lastN(100), now: Int64 = 1_000) -> TrustFigures {
        TrustFigures(log.enumerated().map { Interaction(satisfaction: $1.0, weight: $1.1, time: Int64($0)) }, fading: fading, now: now)
    }

    @Test func oneGoodAndOneBadInteractionOfEqualWeightGiveNoTrustAtAll() {
        // μ = 0.5, σ = √(1·2 − 1²)/2 = 0.5.
        let t = figures([(1, 1), (0, 1)])
        #expect(t.mean == 0.5 && t.deviation == 0.5 && t.value == 0)
    }

    @Test func consistentSatisfactionIsTrustedAtItsLevelWhateverTheWeights() {
        let t = figures([(0.8, 1), (0.8, 2), (0.8, 3)])
        #expect(abs(t.value - 0.8) < 1e-12 && t.deviation == 0 && t.totalWeight == 6)
    }

    @Test func aHeavierGoodInteractionPullsTheMeanUpAndTheDeviationDown() {
        // W = 4, Σswf = 3.5, Σs²wf = 3.25: μ = 0.875, σ = √(3.25·4 − 3.5²)/4 = √0.75/4.
        let t = figures([(1, 3), (0.5, 1)])
        #expect(abs(t.mean - 0.875) < 1e-12)
        #expect(abs(t.deviation - 0.216_506_350_946_109_66) < 1e-12)
        #expect(abs(t.value - 0.658_493_649_053_890_34) < 1e-12)
    }

    @Test func lastNForgetsEverythingBeforeTheNNewest() {
        let t = figures([(0.2, 1), (0.9, 1)], fading: .lastN(1))
        #expect(t.value == 0.9 && t.count == 1)
    }

    @Test func aHalfLifeHalvesTheWeightOfAnInteractionThatOld() {
        // s = 1 now (f = 1), s = 0 one half-life ago (f = 0.5): W = 1.5, μ = 2/3, σ = √(1·1.5 − 1)/1.5.
        let log = [Interaction(satisfaction: 0, weight: 1, time: 0), Interaction(satisfaction: 1, weight: 1, time: 3_600)]
        let t = TrustFigures(log, fading: .halfLife(seconds: 3_600), now: 3_600)
        #expect(abs(t.totalWeight - 1.5) < 1e-15)
        #expect(abs(t.mean - 2.0 / 3) < 1e-12)
        #expect(abs(t.value - (2.0 / 3 - 0.5.squareRoot() / 1.5)) < 1e-12)
    }

    @Test func aServiceNobodyHasRatedStartsAtZero() {
        #expect(figures([]).value == 0 && figures([]).count == 0)
        #expect(figures([(1, 1)], fading: .lastN(0)).value == 0)
    }

    @Test func fadingIsReadFromItsConfiguredForm() {
        #expect(Fading("last:50") == .lastN(50))
        #expect(Fading("half-life:2592000") == .halfLife(seconds: 2_592_000))
        for bad in ["last:0", "last:-1", "half-life:1", "decay:5", "last", "last:x"] { #expect(Fading(bad) == nil, "\(bad)") }
    }
}
