internal import AgoraCore
internal import AgoraMarket
internal import AgoraXMPP

/// `urn:xmpp:iot:discovery` (XEP-0347) `search` over the registered, unfrozen sensors.
///
/// Each sensor is a `thing` of the gateway (`jid` = the domain, `nodeId` = the sensor id)
/// with meta tags: the XEP's reserved `NAME`, `CLASS` (kind), `LAT`, `LON`, `PURL` (url), and
/// `OWNER`, `PRICE` (credits per hour), `UNIT`, and the trust model's scores of the sensor for
/// the requester (issue 23): `TRUST`, `REPUTATION`, `DEPENDABILITY`, `RATINGS`, and
/// `RELIABILITY` once the gateway has sealed one. Filters (all must hold): `strEq`, `strNEq`,
/// `strRange`, `strNRange`, `strMask`, `numEq`, `numNEq`, `numRange`, `numNRange`, `numGt`,
/// `numGte`, `numLt`, `numLte`. A location box is `numRange` on `LAT` and on `LON`. Paging is
/// the XEP's `offset`/`maxCount`, with `more` on `found`.
///
/// Agora's extension: `sort='DEPENDABILITY'` (or `TRUST`, `REPUTATION`, `RELIABILITY`) on
/// `<search/>` orders the things by that score, highest first, and gives every
/// ⌈1 / `[trust] newcomer_share_percent`⌉-th place to a newcomer (fewer ratings than
/// `[trust] newcomer_below`, in an order drawn per requester and hour) so new sensors can earn
/// a reputation. Without `sort` the order is by sensor id. Blacklisted sensors are left out,
/// except for their owner and operators.
enum DiscoveryIQ {
    static let namespace = "urn:xmpp:iot:discovery"
    static let maxCount = 100
    static let maxFilters = 32

    static func register(into iq: inout IQRouter, context: IQContext, domain: String) {
        iq.register(namespace, forRemote: true) { request in  // remote accounts: the same rules as local ones
            guard !request.isSet, request.payload.name == "search" else {
                return .error(StanzaError(.featureNotImplemented, "this gateway answers XEP-0347 search only; things are registered with agora sensor invite"))
            }
            // Decodes every sensor and reads its ratings: off the event loop.
            let viewer = request.account
            return context.later { try search(IQPayload(request.payload), viewer: viewer, domain: domain, context) }
        }
    }

    /// The scores a search may sort by.
    static let sortableScores: Set<String> = ["DEPENDABILITY", "TRUST", "REPUTATION", "RELIABILITY"]

    static func search(_ payload: IQPayload, viewer: BareJID, domain: String, _ context: IQContext) throws -> XMLElement {
        let offset = try count(payload, "offset", max: Int.max)
        let limit = try count(payload, "maxCount", max: maxCount)
        let filters = Array(payload.element.elements)
        guard filters.count <= maxFilters else { throw StanzaError(.policyViolation, "at most \(maxFilters) filters per search") }
        let predicates = try filters.map(Filter.init)
        let sort = payload.optional("sort")
        if let sort, !sortableScores.contains(sort) {
            throw StanzaError(.badRequest, "'sort' is one of \(sortableScores.sorted().joined(separator: ", ")), not '\(sort.prefix(32))'")
        }
        let now = Timestamp.now()
        // Filters on the registration first (cheap), so only what they keep is scored.
        let (onScores, onRegistration) = (predicates.filter { scoreTags.contains($0.name) }, predicates.filter { !scoreTags.contains($0.name) })
        let filtered = try context.market.read { state in
            let privileged = try state.account(viewer)?.role == .operator
            return try state.sensors()
                .filter { !$0.frozen }
                .sorted { $0.id.rawValue < $1.id.rawValue }
                .map { (record: $0, tags: tags(of: $0)) }
                .filter { thing in onRegistration.allSatisfy { $0.matches(thing.tags) } }
                .map { thing in
                    let scores = try state.scores(ofSensor: thing.record.id, for: viewer, policy: context.trust, now: now,
                                                  cache: context.market.trustCache)
                    return (record: thing.record, scores: scores, tags: thing.tags.merging(tags(of: scores)) { _, new in new })
                }
                .filter { !$0.scores.blacklisted || privileged || $0.record.owner == viewer }
                .filter { thing in onScores.allSatisfy { $0.matches(thing.tags) } }
        }
        // Newcomers in an order fixed for this requester and this hour: its pages agree.
        var generator = SeededGenerator(seed: UInt64(bitPattern: Int64(truncatingIfNeeded: "\(viewer)".hashValue))
                                            ^ UInt64(now.seconds / 3600) &* 0x9E37_79B9_7F4A_7C15)
        let matching = sort.map { key in
            TrustRanking.ranked(filtered, newcomerShare: context.trust.newcomerShare, isNewcomer: { $0.scores.newcomer }, score: { thing in
                if case .number(let value)? = thing.tags[key] { value } else { -Double.infinity }
            }, using: &generator)
        } ?? filtered
        // A registry's things come after the gateway's own: they have no scores here, so a
        // filter or a sort on scores leaves them out or puts them last.
        let registered = try context.registry.map { registry in
            try registry.things().filter { thing in onScores.isEmpty && onRegistration.allSatisfy { $0.matches(thing.tags) } }
        } ?? []
        let total = matching.count + registered.count
        let page = matching.dropFirst(offset).prefix(limit)
        // `offset` may be as large as Int.max: compare without adding to it.
        let more = offset < total && limit < total - offset
        var found = XMLElement("found", namespace: namespace, attributes: [.init("more", more ? "true" : "false")])
        let remoteStart = max(0, offset - matching.count)
        for thing in registered.dropFirst(remoteStart).prefix(limit - page.count) { found.append(thing.element) }
        let remote = Array(found.elements)
        found.children = []
        for thing in page {
            var element = XMLElement("thing", namespace: namespace, attributes: [
                .init("owner", thing.record.owner.description), .init("jid", domain), .init("nodeId", thing.record.id.rawValue),
            ])
            for (name, value) in thing.tags.sorted(by: { $0.key < $1.key }) {
                switch value {
                case .text(let text): element.append(XMLElement("str", namespace: namespace, attributes: [.init("name", name), .init("value", text)]))
                case .number(let number): element.append(XMLElement("num", namespace: namespace, attributes: [.init("name", name), .init("value", String(number))]))
                }
            }
            found.append(element)
        }
        for thing in remote { found.append(thing) }
        return found
    }

    /// The meta tags of a registered `<thing/>`, as the filters read them.
    static func tags(of thing: XMLElement) -> [String: Tag] {
        var tags: [String: Tag] = [:]
        for tag in thing.elements {
            guard let name = tag[attribute: "name"], let value = tag[attribute: "value"] else { continue }
            tags[name] = tag.name == "num" ? Double(value).map(Tag.number) : .text(value)
        }
        return tags
    }

    enum Tag: Equatable {
        case text(String)
        case number(Double)
    }

    /// The meta tags the trust model gives a thing, for the requester.
    static let scoreTags: Set<String> = ["TRUST", "REPUTATION", "DEPENDABILITY", "RATINGS", "RELIABILITY"]

    static func tags(of scores: ServiceScores) -> [String: Tag] {
        var tags: [String: Tag] = [
            "TRUST": .number(scores.trust.value), "REPUTATION": .number(scores.reputation.value),
            "DEPENDABILITY": .number(scores.dependability.value), "RATINGS": .number(Double(scores.ratings)),
        ]
        if let reliability = scores.reliability { tags["RELIABILITY"] = .number(reliability) }
        return tags
    }

    static func tags(of sensor: SensorRecord) -> [String: Tag] {
        let r = sensor.registration
        var tags: [String: Tag] = ["CLASS": .text(r.kind), "OWNER": .text(r.owner.description), "PRICE": .number(Double(r.price.value))]
        if !r.name.isEmpty { tags["NAME"] = .text(r.name) }
        if !r.unit.isEmpty { tags["UNIT"] = .text(r.unit) }
        if !r.url.isEmpty { tags["PURL"] = .text(r.url) }
        if let lat = r.lat { tags["LAT"] = .number(lat.degrees) }
        if let lon = r.lon { tags["LON"] = .number(lon.degrees) }
        return tags
    }

    private static func count(_ payload: IQPayload, _ name: String, max: Int) throws(StanzaError) -> Int {
        let text = try payload.required(name)
        guard let value = Int(text), value >= 0 else { throw StanzaError(.badRequest, "'\(name)' must be a non-negative integer") }
        guard value <= max else { throw StanzaError(.policyViolation, "'\(name)' may be at most \(max)") }
        return value
    }

    /// One XEP-0347 filter, parsed once and applied to every thing.
    struct Filter {
        /// The meta tag it tests.
        let name: String
        let matches: ([String: Tag]) -> Bool

        init(_ element: XMLElement) throws(StanzaError) {
            let payload = IQPayload(element)
            let name = try payload.required("name")
            self.name = name
            func text(_ attribute: String) throws(StanzaError) -> String {
                guard let value = element[attribute: attribute] else { throw StanzaError(.badRequest, "<\(element.name)/> needs '\(attribute)'") }
                return value
            }
            func number(_ attribute: String) throws(StanzaError) -> Double {
                guard let value = Double(try text(attribute)), value.isFinite else {
                    throw StanzaError(.badRequest, "<\(element.name)/> '\(attribute)' must be a number")
                }
                return value
            }
            func included(_ attribute: String) -> Bool { !["false", "0"].contains(element[attribute: attribute]) }
            func string(_ tags: [String: Tag]) -> String? { if case .text(let s)? = tags[name] { s } else { nil } }
            func numeric(_ tags: [String: Tag]) -> Double? { if case .number(let n)? = tags[name] { n } else { nil } }
            func inRange<T: Comparable>(_ v: T, _ min: T, _ max: T, _ minIn: Bool, _ maxIn: Bool) -> Bool {
                (minIn ? v >= min : v > min) && (maxIn ? v <= max : v < max)
            }
            switch element.name {
            case "strEq": let v = try text("value"); matches = { string($0) == v }
            case "strNEq": let v = try text("value"); matches = { string($0).map { $0 != v } ?? false }
            case "strRange", "strNRange":
                let (lo, hi, a, b) = (try text("min"), try text("max"), included("minIncluded"), included("maxIncluded"))
                let negate = element.name == "strNRange"
                matches = { tags in string(tags).map { inRange($0, lo, hi, a, b) != negate } ?? false }
            case "strMask":
                let mask = try text("value"), wildcard = element[attribute: "wildcard"] ?? "*"
                guard wildcard.count == 1, mask.count <= 256 else { throw StanzaError(.badRequest, "strMask: one wildcard character, a mask of at most 256") }
                matches = { tags in string(tags).map { Self.mask(mask, wildcard: wildcard.first!, matches: $0) } ?? false }
            case "numEq": let v = try number("value"); matches = { numeric($0) == v }
            case "numNEq": let v = try number("value"); matches = { numeric($0).map { $0 != v } ?? false }
            case "numGt": let v = try number("value"); matches = { numeric($0).map { $0 > v } ?? false }
            case "numGte": let v = try number("value"); matches = { numeric($0).map { $0 >= v } ?? false }
            case "numLt": let v = try number("value"); matches = { numeric($0).map { $0 < v } ?? false }
            case "numLte": let v = try number("value"); matches = { numeric($0).map { $0 <= v } ?? false }
            case "numRange", "numNRange":
                let (lo, hi, a, b) = (try number("min"), try number("max"), included("minIncluded"), included("maxIncluded"))
                let negate = element.name == "numNRange"
                matches = { tags in numeric(tags).map { inRange($0, lo, hi, a, b) != negate } ?? false }
            case let other:
                throw StanzaError(.featureNotImplemented, "filter <\(other)/> is not supported")
            }
        }

        /// `*`-style masks: the wildcard matches any run of characters (including none).
        static func mask(_ mask: String, wildcard: Character, matches text: String) -> Bool {
            let parts = mask.split(separator: wildcard, omittingEmptySubsequences: false)
            guard parts.count > 1 else { return mask == text }
            // Prefix, then suffix of what remains (so they cannot overlap), then the middle parts in order.
            guard text.hasPrefix(parts.first!), text.dropFirst(parts.first!.count).hasSuffix(parts.last!) else { return false }
            var rest = text.dropFirst(parts.first!.count).dropLast(parts.last!.count)
            for part in parts.dropFirst().dropLast() where !part.isEmpty {
                guard let range = rest.firstRange(of: part) else { return false }
                rest = rest[range.upperBound...]
            }
            return true
        }
    }
}
