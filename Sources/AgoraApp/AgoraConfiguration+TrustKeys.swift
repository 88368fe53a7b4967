internal import AgoraReadings
internal import AgoraTrust

/// The `[trust]` keys (issue 23): how ratings are made, how the trust model scores, how
/// often reliability is sealed. Read like every other key (`AgoraConfiguration+Reader.swift`).
///
/// | key | default | meaning |
/// |---|---|---|
/// | `trust.max_weight` | 5 | the weight scale of ratings: 1 … this |
/// | `trust.revision_days` | 7 | a rating may be revised once within this many days of itself (0: never) |
/// | `trust.fading` | "last:50" | fading factor: `last:N` (the N newest ratings count) or `half-life:SECONDS` |
/// | `trust.weights` | "0.3,0.3,0.3,0.1" | default weights a,b,c,d of D = a·T + b·R + c·R′ + d·P (≥ 0, sum 1) |
/// | `trust.full_trust_after` | 5 | own ratings a viewer needs before its trust gets all of a (fewer: the rest goes to reputation) |
/// | `trust.popularity_half_at` | 10 | purchases at which popularity is 0.5 |
/// | `trust.rater_maturity_days` | 30 | a rater's weight in reputation grows from 0 to full over its account's first days |
/// | `trust.ratings_per_rater` | 3 | newest ratings of one rater that count in a service's reputation |
/// | `trust.newcomer_below` | 3 | services with fewer ratings are newcomers |
/// | `trust.newcomer_share_percent` | 10 | share of a sorted search's first places given to newcomers |
/// | `trust.blacklist_below` | "0.2" | reputation under which a service rated by `blacklist_after` accounts or more leaves searches |
/// | `trust.blacklist_after` | 5 | different raters before a service can be blacklisted (0: never) |
/// | `trust.reliability_interval_s` | 86400 | how often serve seals each sensor's measured reliability on the ledger (0: never; else ≥ 300) |
/// | `trust.ranges` | "" | physical ranges that override or add to the built-in ones, `kind=low..high` comma-separated |
extension AgoraConfiguration {
    static let trustKeys: [Key] = [
        Key(name: "trust.max_weight") { c, v, s throws(ConfigurationError) in c.trust.maxWeight = try integer(v, "trust.max_weight", s, min: 1, max: 255) },
        Key(name: "trust.revision_days") { c, v, s throws(ConfigurationError) in
            c.trust.revisionPeriod = Int64(try integer(v, "trust.revision_days", s, min: 0, max: 365)) * 86_400
        },
        Key(name: "trust.fading") { c, v, s throws(ConfigurationError) in
            let text = try string(v, "trust.fading", s, nonEmpty: true)
            guard let fading = Fading(text) else {
                throw .key("trust.fading", source: s, "expected last:N (1…10000) or half-life:SECONDS (60…315360000), not \"\(text.prefix(40))\"")
            }
            c.trust.fading = fading
        },
        Key(name: "trust.weights") { c, v, s throws(ConfigurationError) in
            do { c.trust.weights = try DependabilityWeights(parsing: try string(v, "trust.weights", s, nonEmpty: true)) } catch {
                throw .key("trust.weights", source: s, "\(error)")
            }
        },
        Key(name: "trust.full_trust_after") { c, v, s throws(ConfigurationError) in c.trust.fullTrustAfter = try integer(v, "trust.full_trust_after", s, min: 0, max: 10_000) },
        Key(name: "trust.popularity_half_at") { c, v, s throws(ConfigurationError) in
            c.trust.popularityHalfAt = try integer(v, "trust.popularity_half_at", s, min: 1, max: 1_000_000)
        },
        Key(name: "trust.rater_maturity_days") { c, v, s throws(ConfigurationError) in
            c.trust.raterMaturity = Int64(try integer(v, "trust.rater_maturity_days", s, min: 0, max: 3650)) * 86_400
        },
        Key(name: "trust.ratings_per_rater") { c, v, s throws(ConfigurationError) in
            c.trust.ratingsPerRaterInReputation = try integer(v, "trust.ratings_per_rater", s, min: 1, max: 10_000)
        },
        Key(name: "trust.newcomer_below") { c, v, s throws(ConfigurationError) in c.trust.newcomerBelowRatings = try integer(v, "trust.newcomer_below", s, min: 0, max: 10_000) },
        Key(name: "trust.newcomer_share_percent") { c, v, s throws(ConfigurationError) in
            c.trust.newcomerShare = Double(try integer(v, "trust.newcomer_share_percent", s, min: 0, max: 50)) / 100
        },
        Key(name: "trust.blacklist_below") { c, v, s throws(ConfigurationError) in
            let text = try string(v, "trust.blacklist_below", s, nonEmpty: true)
            guard let value = Double(text), (-1...1).contains(value) else {
                throw .key("trust.blacklist_below", source: s, "expected a number from -1 to 1 (a reputation), not \"\(text.prefix(40))\"")
            }
            c.trust.blacklistBelow = value
        },
        Key(name: "trust.blacklist_after") { c, v, s throws(ConfigurationError) in
            c.trust.blacklistAfterRatings = try integer(v, "trust.blacklist_after", s, min: 0, max: 1_000_000)
        },
        Key(name: "trust.reliability_interval_s") { c, v, s throws(ConfigurationError) in
            let seconds = try integer(v, "trust.reliability_interval_s", s, min: 0, max: 30 * 86_400)
            // Each round writes a ledger entry per sensor: more often than every 5 minutes is a flood.
            guard seconds == 0 || seconds >= 300 else { throw .key("trust.reliability_interval_s", source: s, "0 (never) or at least 300") }
            c.reliabilityIntervalSeconds = seconds
        },
        Key(name: "trust.ranges") { c, v, s throws(ConfigurationError) in
            let text = try string(v, "trust.ranges", s, nonEmpty: false)
            guard let ranges = KindRanges.defaults.overriding(with: text) else {
                throw .key("trust.ranges", source: s, "expected kind=low..high, comma-separated (e.g. \"pm25=0..1000,noise=20..140\")")
            }
            c.kindRanges = ranges
        },
    ]
}
