import Logging
import PostgresNIO

/// The rows of one multi-row statement (`INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4) ...`), bound
/// through PostgresQuery's own interpolation, so each value is encoded exactly as in a single-row
/// statement. A batch of tickets then costs one round trip per table instead of one per row.
struct PostgresRows {
    private var sql = PostgresQuery.StringInterpolation(literalCapacity: 1024, interpolationCount: 0)
    private let head: String
    private let tail: String
    private(set) var count = 0

    /// `head` is the statement up to `VALUES` (`INSERT INTO t (a, b)`); `tail` what follows the rows
    /// (`ON CONFLICT ...`).
    init(_ head: String, _ tail: String = "") {
        self.head = head
        self.tail = tail
        sql.appendLiteral(head + " VALUES ")
    }

    /// One row: `values` appends the row's values in column order.
    mutating func row(_ values: (inout Row) throws -> Void) throws {
        var r = Row(sql: sql)
        sql = PostgresQuery.StringInterpolation(literalCapacity: 0, interpolationCount: 0)
        r.sql.appendLiteral(count == 0 ? "(" : ", (")
        defer { sql = r.sql }
        try values(&r)
        r.sql.appendLiteral(")")
        count += 1
    }

    /// The statement, or nil without rows.
    var query: PostgresQuery? {
        guard count > 0 else { return nil }
        var s = sql
        s.appendLiteral(tail.isEmpty ? "" : " " + tail)
        return PostgresQuery(stringInterpolation: s)
    }

    /// Runs the statement, if there are rows.
    func perform(_ conn: PostgresConnection, _ logger: Logger) async throws {
        if let query { try await conn.perform(query, logger: logger) }
    }

    /// The values of one row, each bound as a parameter, or written as a literal (`'dispatched'`, `NULL`).
    struct Row {
        fileprivate var sql: PostgresQuery.StringInterpolation
        private var first = true

        fileprivate init(sql: PostgresQuery.StringInterpolation) { self.sql = sql }

        private mutating func separate() {
            if !first { sql.appendLiteral(", ") }
            first = false
        }

        mutating func add<V: PostgresThrowingDynamicTypeEncodable>(_ value: V) throws {
            separate()
            try sql.appendInterpolation(value)
        }

        mutating func add<V: PostgresThrowingDynamicTypeEncodable>(_ value: V?) throws {
            separate()
            try sql.appendInterpolation(value)
        }

        mutating func literal(_ text: String) {
            separate()
            sql.appendLiteral(text)
        }
    }
}
