@testable import AgoraServices
import Testing

/// What one round of registration sends to a XEP-0347 registry: changed sensors, frozen ones
/// to remove, and everything in a full round.
struct RegistryPublisherTests {
    typealias Sensor = (id: String, frozen: Bool, tags: [String: DiscoveryIQ.Tag])

    let street: Sensor = ("street-1", false, ["CLASS": .text("pm25"), "PRICE": .number(2)])
    let old: Sensor = ("old-1", true, ["CLASS": .text("pm25"), "PRICE": .number(1)])

    @Test func aFullRoundRegistersEveryActiveSensorAndRemovesEveryFrozenOne() {
        let plan = RegistryPublisher.plan(sent: [:], sensors: [street, old], full: true)
        #expect(plan.register.map(\.id) == ["street-1"])
        #expect(plan.unregister == ["old-1"])
        let stanzas = plan.stanzas(to: "registry.city.test", id: 1)
        #expect(stanzas.map { $0.firstElement?.name } == ["register", "unregister"])
        #expect(stanzas.allSatisfy { $0[attribute: "to"] == "registry.city.test" && $0[attribute: "type"] == "set" })
        #expect(stanzas[0].firstElement?[attribute: "nodeId"] == "street-1")
        #expect(Array(stanzas[0].firstElement!.elements).map { $0[attribute: "name"] } == ["CLASS", "PRICE"])
    }

    @Test func anUnchangedSensorIsNotSentAgainButAChangeOrAFreezeIs() {
        let first = RegistryPublisher.plan(sent: [:], sensors: [street], full: true)
        let quiet = RegistryPublisher.plan(sent: first.sent, sensors: [street], full: false)
        #expect(quiet.register.isEmpty && quiet.unregister.isEmpty)
        var dearer = street
        dearer.tags["PRICE"] = .number(3)
        #expect(RegistryPublisher.plan(sent: first.sent, sensors: [dearer], full: false).register.map(\.id) == ["street-1"])
        var frozen = street
        frozen.frozen = true
        let freeze = RegistryPublisher.plan(sent: first.sent, sensors: [frozen], full: false)
        #expect(freeze.unregister == ["street-1"] && freeze.sent.isEmpty)
        // A frozen sensor never sent is not removed again and again.
        #expect(RegistryPublisher.plan(sent: freeze.sent, sensors: [frozen], full: false).unregister.isEmpty)
    }
}
