import Logging
import PagodaStore
import PostgresNIO
import Synchronization

/// What a write transaction checks of the lease before it writes (`PostgresStore.write`).
public enum WriteFence: Sendable, Equatable {
    /// No lease in use (tools such as `pagoda migrate`, tests, a store no node competes for): not checked.
    case unchecked
    /// The node holds the lease at this epoch: a write runs only while the lease row has this epoch and
    /// has not expired (in the database's clock), and throws `.fenced` otherwise.
    case epoch(Int64)
    /// The node holds no lease (standby, or it lost the lease): every write throws `.fenced` at once.
    case refused
}

/// The lease row as the database sees it now.
public struct LeaseRow: Sendable, Equatable {
    /// The node that acquired it last; nil while it was never taken.
    public var holder: String?
    /// The fencing token: bumped by every acquisition.
    public var epoch: Int64
    /// When it expires, in the database's clock (milliseconds since the epoch).
    public var expiresAt: Int64
    /// The database's clock when it was read.
    public var databaseNow: Int64

    /// Whether it is held: it has a holder and has not expired.
    public var isHeld: Bool { holder != nil && expiresAt > databaseNow }
}

// The lease of the active node, when several `pagoda serve` share one database (docs/architecture.md,
// "Several nodes, one active"). One row (`lease`, migration `v7-lease-row`): holder, epoch, expiry. Every
// expiry decision uses the database's clock (`clock_timestamp()`), never a node's, so nodes whose clocks
// disagree still agree on who holds it. The node keeps a local deadline of its own (`LeaseTerm`) that
// ends before the database's expiry.
extension PostgresStore {
    /// The database's clock in milliseconds since the epoch, as SQL.
    static let databaseNowSQL = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint"

    /// What write transactions check of the lease from now on (`WriteFence`).
    public var writeFence: WriteFence {
        fence.withLock { $0 }
    }

    /// Sets what write transactions check of the lease; writes already past the check are not affected.
    public func setWriteFence(_ value: WriteFence) { fence.withLock { $0 = value } }

    /// Takes the lease for `holder` when it is free, expired, or `holder`'s own (an acquisition whose answer
    /// the node did not wait for): ONE `UPDATE` that sets the expiry `ttl` after the database's now and,
    /// unless `holder` holds it still, bumps the epoch, so every write under an earlier epoch is refused
    /// from then on. Returns the epoch, or nil when another node holds it. A lease `holder` still holds
    /// keeps its epoch: an acquisition sent earlier and answered late cannot fence the node's own writes.
    /// (A holder names one process: host, pid and a random suffix.)
    public func acquireLease(holder: String, ttl: Duration) async throws(StoreError) -> Int64? {
        let ms = Self.milliseconds(ttl)
        let sql = """
            UPDATE lease SET holder = $1,
              epoch = CASE WHEN holder = $1 AND expires_at > \(Self.databaseNowSQL) THEN epoch ELSE epoch + 1 END,
              expires_at = \(Self.databaseNowSQL) + $2
            WHERE id = 1 AND (holder IS NULL OR holder = $1 OR expires_at <= \(Self.databaseNowSQL))
            RETURNING epoch
            """
        return try await read(onLeaseConnection: true) { conn in
            var bindings = PostgresBindings()
            bindings.append(holder)
            bindings.append(ms)
            for try await epoch in try await conn.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: logger)
                .decode(Int64.self)
            {
                return epoch
            }
            return nil
        }
    }

    /// Extends the lease `holder` holds at `epoch` to `ttl` after the database's now. Returns false when it
    /// is no longer held so (another node took it, or it expired first: an expired lease is lost, and
    /// taking it again bumps the epoch).
    public func renewLease(holder: String, epoch: Int64, ttl: Duration) async throws(StoreError) -> Bool {
        let ms = Self.milliseconds(ttl)
        let sql = """
            UPDATE lease SET expires_at = \(Self.databaseNowSQL) + $3
            WHERE id = 1 AND holder = $1 AND epoch = $2 AND expires_at > \(Self.databaseNowSQL)
            RETURNING epoch
            """
        return try await read(onLeaseConnection: true) { conn in
            var bindings = PostgresBindings()
            bindings.append(holder)
            bindings.append(epoch)
            bindings.append(ms)
            for try await _ in try await conn.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: logger)
                .decode(Int64.self)
            {
                return true
            }
            return false
        }
    }

    /// Gives the lease up (it expires now), so that a standby takes over without waiting for the expiry.
    /// Changes nothing when `holder` no longer holds it at `epoch`.
    public func releaseLease(holder: String, epoch: Int64) async throws(StoreError) {
        let sql = "UPDATE lease SET expires_at = 0 WHERE id = 1 AND holder = $1 AND epoch = $2"
        try await read(onLeaseConnection: true) { conn in
            var bindings = PostgresBindings()
            bindings.append(holder)
            bindings.append(epoch)
            try await conn.perform(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: logger)
        }
    }

    /// The lease row and the database's clock now.
    public func lease() async throws(StoreError) -> LeaseRow {
        let sql = "SELECT holder, epoch, expires_at, \(Self.databaseNowSQL) FROM lease WHERE id = 1"
        return try await read(onLeaseConnection: true) { conn in
            for try await (holder, epoch, expires, now) in try await conn.query(
                PostgresQuery(unsafeSQL: sql), logger: logger
            ).decode((String?, Int64, Int64, Int64).self) {
                return LeaseRow(holder: holder, epoch: epoch, expiresAt: expires, databaseNow: now)
            }
            throw StoreError(.internal, "the lease row is missing")
        }
    }

    /// The check of a write transaction, right after the writer lock: the lease row must have `epoch` and
    /// must not have expired.
    ///
    /// It is read `FOR KEY SHARE`, which keeps the row from being deleted but does not conflict with the
    /// `UPDATE`s of renewals and takeovers (they change no key column). `FOR SHARE` would: every renewal
    /// and every standby's attempt would queue behind the write in flight, and the writes behind them, a
    /// convoy in which renewals missed their deadline under load. A takeover that commits while a checked
    /// write is in flight is safe without it: the new active's writes wait for the writer lock that write
    /// holds, so they come after it, and its outbox ids are below theirs.
    static func checkLease(_ epoch: Int64, on conn: PostgresConnection, logger: Logger) async throws {
        let sql = "SELECT epoch, expires_at > \(databaseNowSQL) FROM lease WHERE id = 1 FOR KEY SHARE"
        for try await (current, live) in try await conn.query(PostgresQuery(unsafeSQL: sql), logger: logger)
            .decode((Int64, Bool).self)
        {
            if current != epoch {
                throw StoreError(.fenced, "the lease is at epoch \(current); this node held epoch \(epoch)")
            }
            if !live { throw StoreError(.fenced, "the lease of epoch \(epoch) expired") }
            return
        }
        throw StoreError(.fenced, "the lease row is missing")
    }

    static func milliseconds(_ d: Duration) -> Int64 {
        d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000
    }
}
