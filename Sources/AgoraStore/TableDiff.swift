/// Compares two tables entry by entry, in key order, without loading either.
public enum TableDiff {
    public struct Difference: Sendable, Hashable, CustomStringConvertible {
        public let table: String
        /// The first key that differs: present in one only, or with other bytes.
        public let key: [UInt8]
        public let detail: String
        public var description: String {
            let printable = key.allSatisfy { $0 >= 0x20 && $0 < 0x7F }
            let shown = printable ? String(decoding: key, as: UTF8.self) : key.map { String($0, radix: 16) }.joined(separator: " ")
            return "table \(table), key \(shown): \(detail)"
        }
    }

    /// The first difference between `db` as seen by `lhs` and `otherDB` as seen by `rhs`, or nil.
    public static func firstDifference(_ db: Database, in lhs: ReadTransaction,
                                       _ otherDB: Database, in rhs: ReadTransaction) throws -> Difference? {
        let left = try Cursor(transaction: lhs, database: db)
        let right = try Cursor(transaction: rhs, database: otherDB)
        var a = try left.first()
        var b = try right.first()
        while true {
            switch (a, b) {
            case (nil, nil):
                return nil
            case (let (key, _)?, nil):
                return Difference(table: db.name, key: Array(key), detail: "present in the store, missing after replay")
            case (nil, let (key, _)?):
                return Difference(table: db.name, key: Array(key), detail: "produced by replay, missing in the store")
            case (let (ka, va)?, let (kb, vb)?):
                if !ka.elementsEqual(kb) {
                    let first = ka.lexicographicallyPrecedes(kb) ? ka : kb
                    let detail = first.elementsEqual(ka) ? "present in the store, missing after replay" : "produced by replay, missing in the store"
                    return Difference(table: db.name, key: Array(first), detail: detail)
                }
                if !va.elementsEqual(vb) {
                    return Difference(table: db.name, key: Array(ka), detail: "value differs from the replayed one")
                }
                a = try left.next()
                b = try right.next()
            }
        }
    }
}
