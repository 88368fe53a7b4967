internal import CResolv

/// Where to reach a peer domain (RFC 6120 §3.2): its `_xmpp-server._tcp` SRV records, in
/// order of priority then weight, each host resolved to addresses; without SRV records,
/// the domain itself on 5269.
///
/// Written here over libc's `res_query` because no package in reach resolves SRV records
/// without Foundation or c-ares, and the static binary has libc's resolver anyway: it reads
/// the same `/etc/resolv.conf` as every other program (which is how `ip netns exec` points
/// a namespace at its own DNS server). The answer parser is bounded: at most 64 records,
/// names of at most 255 bytes, 16 compression jumps. Calls block: run them off event loops.
enum DNSResolver {
    struct Target: Equatable, Sendable {
        var host: String
        var port: Int
    }

    /// RR types (RFC 1035 §3.2.2, RFC 3596, RFC 2782).
    private static let typeA: Int32 = 1, typeAAAA: Int32 = 28, typeSRV: Int32 = 33

    /// The targets for a server-to-server connection to `domain`, best first.
    static func serverTargets(for domain: String) -> [Target] {
        let records = srv("_xmpp-server._tcp.\(domain)")
        // RFC 2782: a single record with target "." says the service is not offered.
        if records.count == 1, records[0].target == "." { return [] }
        guard !records.isEmpty else { return [Target(host: domain, port: 5269)] }
        return ordered(records).map { Target(host: $0.target, port: $0.port) }
    }

    /// IPv4 then IPv6 addresses of `host`, as text for NIO to connect to.
    static func addresses(of host: String) -> [String] {
        var result: [String] = []
        for answer in query(host, type: typeA) where answer.type == typeA && answer.data.count == 4 {
            result.append(answer.data.map(String.init).joined(separator: "."))
        }
        for answer in query(host, type: typeAAAA) where answer.type == typeAAAA && answer.data.count == 16 {
            result.append(stride(from: 0, to: 16, by: 2).map { String(UInt16(answer.data[$0]) << 8 | UInt16(answer.data[$0 + 1]), radix: 16) }.joined(separator: ":"))
        }
        return result
    }

    struct SRVRecord: Equatable {
        var priority: Int
        var weight: Int
        var port: Int
        var target: String
    }

    static func srv(_ name: String) -> [SRVRecord] { records(query(name, type: typeSRV)) }

    /// The SRV records of a whole DNS message (for tests of the parser).
    static func srvRecords(in message: [UInt8]) -> [SRVRecord] { records(parse(message)) }

    private static func records(_ answers: [Answer]) -> [SRVRecord] {
        answers.compactMap { answer in
            guard answer.type == typeSRV, answer.data.count >= 7 else { return nil }
            let d = answer.data
            let reader = NameReader(message: answer.message)
            guard let target = reader.name(at: answer.dataOffset + 6) else { return nil }
            return SRVRecord(priority: Int(d[0]) << 8 | Int(d[1]), weight: Int(d[2]) << 8 | Int(d[3]), port: Int(d[4]) << 8 | Int(d[5]),
                             target: target.isEmpty ? "." : target)
        }
    }

    /// RFC 2782's order: ascending priority; within one, a weighted random pick repeated.
    static func ordered(_ records: [SRVRecord], random: (Int) -> Int = { Int.random(in: 0..<max(1, $0)) }) -> [SRVRecord] {
        var result: [SRVRecord] = []
        for priority in Set(records.map(\.priority)).sorted() {
            var pool = records.filter { $0.priority == priority }
            while !pool.isEmpty {
                let total = pool.reduce(0) { $0 + $1.weight }
                var pick = 0
                if total > 0 {
                    var point = random(total + 1)
                    for (index, record) in pool.enumerated() {
                        point -= record.weight
                        if point <= 0 { pick = index; break }
                    }
                }
                result.append(pool.remove(at: pick))
            }
        }
        return result
    }

    private struct Answer {
        var type: Int32
        /// The record's data, copied out (indices from 0).
        var data: [UInt8]
        var dataOffset: Int
        var message: [UInt8]
    }

    private static func query(_ name: String, type: Int32) -> [Answer] {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let length = name.withCString { cname in
            buffer.withUnsafeMutableBufferPointer { cresolv_query(cname, type, $0.baseAddress, Int32($0.count)) }
        }
        guard length >= 12, Int(length) <= buffer.count else { return [] }
        return parse(Array(buffer[0..<Int(length)]))
    }

    /// The answer section of a DNS message (RFC 1035 §4.1), bounded.
    static func parseForTests(_ message: [UInt8]) -> [(type: Int32, data: [UInt8])] { parse(message).map { ($0.type, $0.data) } }

    private static func parse(_ message: [UInt8]) -> [Answer] {
        guard message.count >= 12 else { return [] }
        let questions = Int(message[4]) << 8 | Int(message[5])
        let answers = min(64, Int(message[6]) << 8 | Int(message[7]))
        let reader = NameReader(message: message)
        var offset = 12
        for _ in 0..<min(questions, 4) {
            guard let end = reader.skipName(at: offset), end + 4 <= message.count else { return [] }
            offset = end + 4
        }
        var result: [Answer] = []
        for _ in 0..<answers {
            guard let end = reader.skipName(at: offset), end + 10 <= message.count else { break }
            let type = Int32(message[end]) << 8 | Int32(message[end + 1])
            let length = Int(message[end + 8]) << 8 | Int(message[end + 9])
            let start = end + 10
            guard start + length <= message.count else { break }
            result.append(Answer(type: type, data: Array(message[start..<start + length]), dataOffset: start, message: message))
            offset = start + length
        }
        return result
    }

    /// Reads (possibly compressed) domain names of one message.
    private struct NameReader {
        let message: [UInt8]

        /// The offset just past the name at `offset` (its pointer, if it ends in one).
        func skipName(at offset: Int) -> Int? {
            var position = offset
            while position < message.count {
                let length = Int(message[position])
                if length == 0 { return position + 1 }
                if length & 0xC0 == 0xC0 { return position + 2 <= message.count ? position + 2 : nil }
                position += 1 + length
            }
            return nil
        }

        /// The dotted name at `offset`, without the trailing dot ("" for the root).
        func name(at offset: Int) -> String? {
            var labels: [String] = []
            var position = offset, jumps = 0, total = 0
            while position < message.count {
                let length = Int(message[position])
                if length == 0 { return labels.joined(separator: ".") }
                if length & 0xC0 == 0xC0 {
                    guard position + 1 < message.count, jumps < 16 else { return nil }
                    jumps += 1
                    position = (length & 0x3F) << 8 | Int(message[position + 1])
                    continue
                }
                total += length + 1
                guard length <= 63, total <= 255, position + 1 + length <= message.count else { return nil }
                labels.append(String(decoding: message[position + 1..<position + 1 + length], as: UTF8.self).lowercased())
                position += 1 + length
            }
            return nil
        }
    }
}
