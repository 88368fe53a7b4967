import AgoraCore
import AgoraMarket

/// Turns command-line text into domain values; a bad value is a refusal (exit 1) that
/// says which value and why.
enum Parse {
    static func jid(_ text: String) throws -> BareJID {
        do { return try BareJID(text) } catch { throw MarketRefusal.invalid(error) }
    }
    static func sensor(_ text: String) throws -> SensorID {
        do { return try SensorID(text) } catch { throw MarketRefusal.invalid(error) }
    }
    static func amount(_ text: String) throws -> Credits {
        do { return try Credits(parsing: text) } catch { throw MarketRefusal.invalid(error) }
    }
    static func role(_ text: String) throws -> Role {
        do { return try Role(parsing: text) } catch { throw MarketRefusal.invalid(error) }
    }
    static func time(_ text: String, field: String) throws -> Timestamp {
        do { return try Timestamp(rfc3339: text) } catch {
            throw MarketRefusal.invalid(.malformed(field, text, reason: "expected RFC 3339, e.g. 2026-11-22T10:00:00Z"))
        }
    }
    static func readingTime(_ text: String) throws -> Int64 {
        do { return try Reading.parseTime(text) } catch { throw MarketRefusal.invalid(error) }
    }
    static func latitude(_ value: Double?) throws -> Coordinate? {
        guard let value else { return nil }
        do { return try Coordinate.latitude(value) } catch { throw MarketRefusal.invalid(error) }
    }
    static func longitude(_ value: Double?) throws -> Coordinate? {
        guard let value else { return nil }
        do { return try Coordinate.longitude(value) } catch { throw MarketRefusal.invalid(error) }
    }
}
