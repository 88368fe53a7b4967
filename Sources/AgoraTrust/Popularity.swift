/// Popularity P: how many purchases a service has had, normalised to [0, 1) as n / (n + k).
/// Saturating rather than divided by the gateway's busiest service, so one service's
/// success does not lower everyone else's P, and P is computed from the service's own count.
public enum Popularity {
    public static func of(requests n: Int, halfAt k: Int) -> Double {
        guard n > 0 else { return 0 }
        return Double(n) / Double(n + max(1, k))
    }
}
