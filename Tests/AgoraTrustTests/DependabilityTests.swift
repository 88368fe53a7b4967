import AgoraTrust
import Testing

@Suite struct DependabilityTests {
    let components = (trust: 0.61, reputation: 0.42, reliability: 0.93, popularity: 0.25)

    func d(_ a: Double, _ b: Double, _ c: Double, _ d: Double) throws -> Double {
        Dependability(trust: components.trust, reputation: components.reputation, reliability: components.reliability,
                      popularity: components.popularity, weights: try DependabilityWeights(trust: a, reputation: b, reliability: c, popularity: d)).value
    }

    @Test func withAllWeightOnOneComponentDependabilityIsThatComponent() throws {
        #expect(try d(1, 0, 0, 0) == components.trust)
        #expect(try d(0, 1, 0, 0) == components.reputation)
        #expect(try d(0, 0, 1, 0) == components.reliability)
        #expect(try d(0, 0, 0, 1) == components.popularity)
    }

    @Test func weightsThatAreNegativeOrDoNotSumToOneAreRefusedWithTheReason() {
        #expect(throws: TrustModelError.self) { try DependabilityWeights(trust: 0.3, reputation: 0.3, reliability: 0.3, popularity: 0.3) }
        #expect(throws: TrustModelError.self) { try DependabilityWeights(trust: -0.1, reputation: 0.6, reliability: 0.3, popularity: 0.2) }
        #expect(throws: TrustModelError.self) { try DependabilityWeights(parsing: "0.5,0.5") }
        #expect(throws: TrustModelError.self) { try DependabilityWeights(parsing: "a,b,c,d") }
        #expect((try? DependabilityWeights(parsing: "0.333, 0.333, 0.334, 0")) != nil)
    }

    @Test func aViewerWithFewInteractionsOfItsOwnLeansOnReputation() throws {
        let w = try DependabilityWeights(trust: 0.4, reputation: 0.2, reliability: 0.3, popularity: 0.1)
        let none = w.adapted(ownInteractions: 0, fullTrustAfter: 5)
        #expect(none.trust == 0 && abs(none.reputation - 0.6) < 1e-12)
        let some = w.adapted(ownInteractions: 2, fullTrustAfter: 5)
        #expect(abs(some.trust - 0.16) < 1e-12 && abs(some.reputation - 0.44) < 1e-12)
        #expect(w.adapted(ownInteractions: 5, fullTrustAfter: 5) == w)
        #expect(abs(some.trust + some.reputation + some.reliability + some.popularity - 1) < 1e-12)
    }

    @Test func popularitySaturatesAndIsHalfAtItsConfiguredCount() {
        #expect(Popularity.of(requests: 0, halfAt: 10) == 0)
        #expect(Popularity.of(requests: 10, halfAt: 10) == 0.5)
        #expect(Popularity.of(requests: 1_000_000, halfAt: 10) < 1)
    }
}
