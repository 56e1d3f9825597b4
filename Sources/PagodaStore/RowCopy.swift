import Foundation
import GRDB

/// A column's value as SQLite stores it, for copying a store's rows to another backend (`pagoda migrate`).
package enum StoredValue: Sendable, Hashable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])
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
                ).map { row in
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
            }
        }
    }

    /// The number of rows of `table` (a name from the caller's fixed list).
    package func rowCount(_ table: String) throws(StoreError) -> Int {
        try storeOperation { try pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM \(table)") ?? 0 } }
    }
}
