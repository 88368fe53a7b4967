/// The order of a search sorted by a score: highest first, with a share of the places kept
/// for newcomers (M-Sec's rule that "a share of recommendations introduces newcomers", so a
/// sensor nobody has rated yet is ever seen and can earn a reputation).
///
/// Every n-th place (n = ⌈1 / share⌉: the 10th, 20th, … at 10 %) goes to a newcomer while any
/// remain; newcomers are drawn in an order `generator` shuffles, so they share that
/// exposure. When one group runs out, the other fills the rest.
enum TrustRanking {
    static func ranked<Thing>(_ things: [Thing], newcomerShare: Double, isNewcomer: (Thing) -> Bool,
                              score: (Thing) -> Double, using generator: inout some RandomNumberGenerator) -> [Thing] {
        let established = things.filter { !isNewcomer($0) }.enumerated()
            // Stable: equal scores keep their (sensor id) order.
            .sorted { score($0.element) != score($1.element) ? score($0.element) > score($1.element) : $0.offset < $1.offset }
            .map(\.element)
        let newcomers = things.filter(isNewcomer).shuffled(using: &generator)
        guard newcomerShare > 0 else { return established + newcomers }
        let every = max(1, Int((1 / newcomerShare).rounded(.up)))
        var result: [Thing] = []
        result.reserveCapacity(things.count)
        var e = established.makeIterator(), n = newcomers.makeIterator()
        var nextEstablished = e.next(), nextNewcomer = n.next()
        while nextEstablished != nil || nextNewcomer != nil {
            let newcomersTurn = (result.count + 1) % every == 0
            if let newcomer = nextNewcomer, newcomersTurn || nextEstablished == nil {
                result.append(newcomer)
                nextNewcomer = n.next()
            } else if let thing = nextEstablished {
                result.append(thing)
                nextEstablished = e.next()
            }
        }
        return result
    }
}
