import AgoraTestSupport
import AgoraTrust
import Foundation
import Testing

/// The implementation against a direct evaluation of M-Sec's formulas by an independent
/// program (`Tests/Interop/trust_model.py`, a few lines of Python) on 10 000 random logs.
@Suite struct TrustModelPropertyTests {
    static let reference = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Interop/trust_model.py").path

    struct Case: Encodable {
        var interactions: [[Double]]
        var fading: String
        var now: Int64
        var weights: [Double]
        var own: Int
        var fullTrustAfter: Int
        var reputation: Double
        var reliability: Double
        var requests: Int
        var popularityHalfAt: Int
    }

    struct Expected: Decodable { var mu, sigma, T, D: Double }

    @Test func theModelMatchesADirectEvaluationOfItsFormulasOnTenThousandRandomLogs() throws {
        var random = SplitMix(seed: 0x7275_7374)
        var cases: [Case] = []
        var computed: [(TrustFigures, Double)] = []
        for _ in 0..<10_000 {
            let count = Int.random(in: 0...40, using: &random)
            let now: Int64 = 1_800_000_000
            var time = now - Int64.random(in: 0...(90 * 86_400), using: &random)
            var log: [Interaction] = []
            for _ in 0..<count {
                // Satisfaction as stored on the ledger (thousandths), weight from a 1…5 scale;
                // a tenth of the logs have every satisfaction equal (σ's rounding edge).
                let s = Double(Int.random(in: 0...1000, using: &random)) / 1000
                log.append(Interaction(satisfaction: s, weight: Double(Int.random(in: 1...5, using: &random)), time: time))
                time = min(now + 60, time + Int64.random(in: 0...86_400, using: &random))
            }
            if Int.random(in: 0..<10, using: &random) == 0, let first = log.first {
                log = log.map { Interaction(satisfaction: first.satisfaction, weight: $0.weight, time: $0.time) }
            }
            let fading: Fading = Bool.random(using: &random)
                ? .lastN(Int.random(in: 1...30, using: &random))
                : .halfLife(seconds: Int64.random(in: 3_600...(60 * 86_400), using: &random))
            var raw = (0..<4).map { _ in Double(Int.random(in: 0...1000, using: &random)) }
            if raw.allSatisfy({ $0 == 0 }) { raw[0] = 1 }
            let sum = raw.reduce(0, +)
            let weights = try DependabilityWeights(trust: raw[0] / sum, reputation: raw[1] / sum, reliability: raw[2] / sum, popularity: raw[3] / sum)
            let own = Int.random(in: 0...8, using: &random), fullAfter = Int.random(in: 0...6, using: &random)
            let reputation = Double.random(in: -1...1, using: &random), reliability = Double.random(in: 0...1, using: &random)
            let requests = Int.random(in: 0...500, using: &random), halfAt = Int.random(in: 1...50, using: &random)

            let figures = TrustFigures(log, fading: fading, now: now)
            let d = Dependability(trust: figures.value, reputation: reputation, reliability: reliability,
                                  popularity: Popularity.of(requests: requests, halfAt: halfAt),
                                  weights: weights.adapted(ownInteractions: own, fullTrustAfter: fullAfter))
            computed.append((figures, d.value))
            cases.append(Case(interactions: log.map { [$0.satisfaction, $0.weight, Double($0.time)] }, fading: fading.description, now: now,
                              weights: [raw[0] / sum, raw[1] / sum, raw[2] / sum, raw[3] / sum], own: own, fullTrustAfter: fullAfter,
                              reputation: reputation, reliability: reliability, requests: requests, popularityHalfAt: halfAt))
        }
        let input = String(decoding: try JSONEncoder().encode(cases), as: UTF8.self)
        let result = try runProcess("/usr/bin/python3", [Self.reference], stdin: input)
        try #require(result.status == 0, "\(result.stderr)")
        let expected = try JSONDecoder().decode([Expected].self, from: Data(result.stdout.utf8))
        try #require(expected.count == computed.count)
        var mismatches = 0
        for (i, (figures, d)) in computed.enumerated() {
            let e = expected[i]
            // σ is a square root of a difference: near 0 its rounding is amplified to ~1e-8.
            let close = abs(figures.mean - e.mu) < 1e-12 && abs(figures.deviation - e.sigma) < 1e-7
                && abs(figures.value - e.T) < 1e-7 && abs(d - e.D) < 1e-7
            if !close {
                mismatches += 1
                if mismatches <= 3 { Issue.record("case \(i): Swift μ \(figures.mean) σ \(figures.deviation) D \(d); Python \(e)") }
            }
        }
        #expect(mismatches == 0)
    }
}
