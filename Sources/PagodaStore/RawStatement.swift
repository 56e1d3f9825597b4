import Foundation
import GRDB
import GRDBSQLite

/// Binds a statement's arguments straight through SQLite's C API (`Database.executeRaw`, `queryRaw`).
///
/// For the statements a timer batch runs hundreds of times per transaction: GRDB's general path (an
/// array of `DatabaseValueConvertible` existentials, converted and checked per execution, plus its
/// observation and scheduling hooks) was about a fifth of such a commit (`pagoda-bench store --fire`
/// under `perf`). The statement still comes from GRDB's cache, runs on GRDB's connection inside its
/// transaction, and a failure throws GRDB's `DatabaseError`. Not for statements whose changes a GRDB
/// observer must see: the store has none.
struct RawBinder {
    fileprivate let statement: OpaquePointer
    fileprivate var index: Int32 = 1
    /// The first bind that failed (SQLite's result code), thrown before the statement runs.
    fileprivate var failure = SQLITE_OK

    private mutating func check(_ code: Int32) {
        if code != SQLITE_OK && failure == SQLITE_OK { failure = code }
        index += 1
    }

    /// SQLite copies the bytes before the bind call returns.
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    mutating func bind(_ value: Int64) {
        check(sqlite3_bind_int64(statement, index, value))
    }

    mutating func bind(_ value: Int) { bind(Int64(value)) }

    mutating func bind(_ value: Bool) { bind(Int64(value ? 1 : 0)) }

    mutating func bind(_ value: Int64?) {
        if let value { bind(value) } else { bindNull() }
    }

    mutating func bind(_ value: String) {
        var value = value
        check(value.withUTF8 { sqlite3_bind_text(statement, index, $0.baseAddress, Int32($0.count), Self.transient) })
    }

    mutating func bind(_ value: String?) {
        if let value { bind(value) } else { bindNull() }
    }

    /// A blob; an empty one is an empty blob, not NULL.
    mutating func bind(blob value: some ContiguousBytes) {
        check(
            value.withUnsafeBytes { raw in
                raw.isEmpty
                    ? sqlite3_bind_zeroblob(statement, index, 0)
                    : sqlite3_bind_blob(statement, index, raw.baseAddress, Int32(raw.count), Self.transient)
            })
    }

    mutating func bindNull() {
        check(sqlite3_bind_null(statement, index))
    }
}

/// The current row of a statement run by `Database.queryRaw`, read straight through SQLite's C API.
struct RawRow {
    fileprivate let statement: OpaquePointer

    func int(_ column: Int32) -> Int64 { sqlite3_column_int64(statement, column) }
    func optionalInt(_ column: Int32) -> Int64? {
        sqlite3_column_type(statement, column) == SQLITE_NULL ? nil : sqlite3_column_int64(statement, column)
    }

    /// The column's text (SQLite converts a non-text value); nil when NULL.
    func text(_ column: Int32) -> String? {
        guard let p = sqlite3_column_text(statement, column) else { return nil }
        return String(
            decoding: UnsafeBufferPointer(start: p, count: Int(sqlite3_column_bytes(statement, column))), as: UTF8.self)
    }

    /// The column's bytes (empty for an empty blob or NULL).
    func bytes(_ column: Int32) -> [UInt8] {
        // The pointer first, then its length (SQLite's documented order).
        guard let p = sqlite3_column_blob(statement, column) else { return [] }
        return [UInt8](UnsafeRawBufferPointer(start: p, count: Int(sqlite3_column_bytes(statement, column))))
    }
}

extension Database {
    /// Executes `sql` (one statement that returns no rows) from the statement cache, with the arguments
    /// `bind` binds in order.
    func executeRaw(_ sql: String, _ bind: (inout RawBinder) -> Void) throws {
        try queryRaw(sql, bind) { _ in
            throw DatabaseError(resultCode: .SQLITE_MISUSE, message: "the statement returned rows", sql: sql)
        }
    }

    /// Runs `sql` with the arguments `bind` binds in order, handing each row to `row`; from the statement
    /// cache unless `cached` is false (for SQL that varies, such as an IN list of any length).
    func queryRaw(_ sql: String, cached: Bool = true, _ bind: (inout RawBinder) -> Void, row: (RawRow) throws -> Void)
        throws
    {
        let statement = try cached ? cachedStatement(sql: sql) : makeStatement(sql: sql)
        let handle = statement.sqliteStatement
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
        defer { sqlite3_reset(handle) }
        var binder = RawBinder(statement: handle)
        bind(&binder)
        precondition(
            binder.index - 1 == sqlite3_bind_parameter_count(handle), "\(binder.index - 1) arguments bound for \(sql)")
        guard binder.failure == SQLITE_OK else {
            throw DatabaseError(
                resultCode: ResultCode(rawValue: binder.failure), message: "cannot bind an argument", sql: sql)
        }
        while true {
            let code = sqlite3_step(handle)
            if code == SQLITE_DONE { return }
            guard code == SQLITE_ROW else {
                throw DatabaseError(
                    resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(sqliteConnection)),
                    sql: sql)
            }
            try row(RawRow(statement: handle))
        }
    }
}
