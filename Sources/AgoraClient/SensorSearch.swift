internal import AgoraCore
internal import AgoraXMPP
internal import FoundationEssentials
#if canImport(Glibc)
internal import Glibc
#endif

/// XEP-0347 search for the consumer: what a sensor measures, where, at what price.
public struct SensorSearch {
    let client: XMPPClient

    public init(client: XMPPClient) { self.client = client }

    /// A circle on the ground: centre and radius in kilometres.
    public struct Area: Sendable {
        public let latitude: Double, longitude: Double, kilometres: Double
        public init(latitude: Double, longitude: Double, kilometres: Double) {
            self.latitude = latitude; self.longitude = longitude; self.kilometres = kilometres
        }

        /// Great-circle distance (haversine, mean Earth radius) from the centre, in km.
        func distance(latitude: Double, longitude: Double) -> Double {
            let radians = Double.pi / 180
            let dLat = (latitude - self.latitude) * radians, dLon = (longitude - self.longitude) * radians
            let a = sin(dLat / 2) * sin(dLat / 2) + cos(self.latitude * radians) * cos(latitude * radians) * sin(dLon / 2) * sin(dLon / 2)
            return 6371.0088 * 2 * atan2(a.squareRoot(), (1 - a).squareRoot())
        }
    }

    /// A sensor found: its id and meta tags (`CLASS`, `PRICE`, `LAT`, …), and its distance
    /// from the centre when an area was asked for.
    public struct Thing: Sendable, Encodable {
        public let sensor: String
        public let tags: [String: String]
        public let distanceKm: Double?
        /// The JID that serves the thing's data (the gateway's domain).
        public let jid: String?
    }

    /// `kind` → `strEq CLASS`; `area` → a `numRange` box on LAT/LON that the gateway filters,
    /// then the exact circle here; `maxPrice` → `numLte PRICE`. Every page is fetched.
    /// `sort` (DEPENDABILITY, TRUST, REPUTATION, RELIABILITY) asks the gateway to order the
    /// things by that score, highest first (Agora's extension of XEP-0347); `minDependability`
    /// → `numGte DEPENDABILITY`.
    /// - Parameter registry: a XEP-0347 registry's JID to ask instead of the gateway: its
    ///   answer holds things of every gateway registered there, each with the JID serving it.
    public func search(kind: String?, area: Area?, maxPrice: Int64?, sort: String? = nil,
                       minDependability: Double? = nil, registry: String? = nil) async throws(XMPPClientError) -> [Thing] {
        var filters: [XMLElement] = []
        let ns = ClientNamespace.discovery
        if let kind { filters.append(XMLElement("strEq", namespace: ns, attributes: [.init("name", "CLASS"), .init("value", kind)])) }
        if let maxPrice { filters.append(XMLElement("numLte", namespace: ns, attributes: [.init("name", "PRICE"), .init("value", String(maxPrice))])) }
        if let minDependability {
            filters.append(XMLElement("numGte", namespace: ns, attributes: [.init("name", "DEPENDABILITY"), .init("value", String(minDependability))]))
        }
        if let area {
            let dLat = area.kilometres / 111.32
            let dLon = area.kilometres / max(0.01, 111.32 * cos(area.latitude * Double.pi / 180))
            filters.append(XMLElement("numRange", namespace: ns, attributes: [.init("name", "LAT"), .init("min", String(area.latitude - dLat)), .init("max", String(area.latitude + dLat))]))
            filters.append(XMLElement("numRange", namespace: ns, attributes: [.init("name", "LON"), .init("min", String(area.longitude - dLon)), .init("max", String(area.longitude + dLon))]))
        }
        var things: [Thing] = []
        var offset = 0
        while offset < 100_000 {
            var request = XMLElement("search", namespace: ns, attributes: [.init("offset", String(offset)), .init("maxCount", "100")],
                                     children: filters.map { .element($0) })
            if let sort { request[attribute: "sort"] = sort }
            guard let found = try await client.request("get", request, to: registry) else { throw .protocolViolation("an empty search result") }
            let page = found.elements.filter { $0.name == "thing" }
            for thing in page {
                guard let sensor = thing[attribute: "nodeId"] else { continue }
                var tags: [String: String] = [:]
                for tag in thing.elements { if let name = tag[attribute: "name"], let value = tag[attribute: "value"] { tags[name] = value } }
                var distance: Double?
                if let area, let lat = tags["LAT"].flatMap(Double.init), let lon = tags["LON"].flatMap(Double.init) {
                    distance = area.distance(latitude: lat, longitude: lon)
                    if distance! > area.kilometres { continue }
                } else if area != nil {
                    continue  // no position: cannot be near anything
                }
                things.append(Thing(sensor: sensor, tags: tags, distanceKm: distance, jid: thing[attribute: "jid"]))
            }
            guard found[attribute: "more"] == "true", !page.isEmpty else { break }
            offset += page.count
        }
        return things
    }
}
