import Foundation
import GRDB

/// A column's value as SQLite stores it, for copying a store's rows to another backend (`pagoda migrate`).
package enum StoredValue: Sendable, Hashable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])

    var databaseValue: DatabaseValue {
        switch self {
        case .null: .null
        case .integer(let i): i.databaseValue
        case .real(let d): d.databaseValue
        case .text(let s): s.databaseValue
        case .blob(let b): Data(b).databaseValue
        }
    }
}

extension DispatchStore {
    /// Up to `limit` rows of `table` after `offset`, the given columns in order, sorted by `orderBy`.
    ///
    /// For copying a database that nothing writes meanwhile (the caller holds the instance lock): each call
    /// is its own read. Table, column and order names come from the caller's fixed list, never from input.
    package func rows(_ table: String, columns: [String], orderBy: String, offset: Int, limit: Int) throws(StoreError)
        -> [[StoredValue]]
    {
        try storeOperation {
            try pool.read { db in
                try Row.fetchAll(
                    db,
                    sql: "SELECT \(columns.joined(separator: ", ")) FROM \(table) ORDER BY \(orderBy) LIMIT ? OFFSET ?",
                    arguments: [limit, offset]
                ).map(Self.storedValues)
            }
        }
    }

    /// Up to `limit` rows of `table` whose key (the `key` columns, its primary key) comes after `after`
    /// (from the first row when empty), the given columns in order, sorted by the key. Each call seeks to
    /// its first row through the key's index, so copying a table in pages reads each row once.
    ///
    /// For copying a database that nothing writes meanwhile (the caller holds the instance lock). Table and
    /// column names come from the caller's fixed list, never from input.
    package func rows(_ table: String, columns: [String], key: [String], after: [StoredValue], limit: Int)
        throws(StoreError) -> [[StoredValue]]
    {
        let keyList = key.joined(separator: ", ")
        let start =
            after.isEmpty
            ? "" : "WHERE (\(keyList)) > (\(Array(repeating: "?", count: after.count).joined(separator: ", ")))"
        let arguments = StatementArguments(after.map(\.databaseValue) + [limit.databaseValue])
        return try storeOperation {
            try pool.read { db in
                try Row.fetchAll(
                    db,
                    sql: "SELECT \(columns.joined(separator: ", ")) FROM \(table) \(start) ORDER BY \(keyList) LIMIT ?",
                    arguments: arguments
                ).map(Self.storedValues)
            }
        }
    }

    private static func storedValues(_ row: Row) -> [StoredValue] {
        row.databaseValues.map { v in
            switch v.storage {
            case .null: .null
            case .int64(let i): .integer(i)
            case .double(let d): .real(d)
            case .string(let s): .text(s)
            case .blob(let b): .blob([UInt8](b))
            }
        }
    }

    /// The number of rows of `table` (a name from the caller's fixed list).
    package func rowCount(_ table: String) throws(StoreError) -> Int {
        try storeOperation { try pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM \(table)") ?? 0 } }
    }
}
