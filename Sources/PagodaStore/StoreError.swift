import GRDB

/// A failure of the dispatch store.
///
/// `code` is a closed set callers can switch on; `message` is for logs and
/// never contains ticket bodies (SQL arguments are not included).
public struct StoreError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure happened. Closed set.
    public enum Code: String, Sendable, Hashable, CaseIterable {
        /// The database file could not be opened or created (path, permissions).
        case cannotOpen
        /// A schema migration failed; the file was left at its previous version.
        case migrationFailed
        /// The operating system reported an I/O error (includes disk full).
        case io
        /// A schema constraint was violated (duplicate outbox message id,
        /// foreign key, NOT NULL, CHECK). The transaction was rolled back.
        case constraint
        /// The file is not a database or is malformed.
        case corrupt
        /// Another connection held the lock longer than `busyTimeout`.
        case busy
        /// The database is read-only (file permissions, read-only mount).
        case readOnly
        /// The caller passed a value the store refuses (e.g. negative limit).
        case invalidArgument
        /// Anything else SQLite or GRDB reported.
        case `internal`
        /// The write was refused because this node no longer holds the lease (PostgreSQL with several
        /// nodes: another node took over, or the lease expired). Nothing was written; the node stops
        /// being active. Not a storage failure, and not the data's fault.
        case fenced
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "StoreError.\(code.rawValue): \(message)" }

    /// Whether the failure is the store's, not the data's: the disk is full or failing, the file cannot be
    /// opened or written, another process holds the lock, the file is damaged.
    ///
    /// Such a failure says nothing about the message being written: the same write succeeds once the
    /// store can write again, so callers hold their work and retry it (with backoff) rather than count it
    /// against the message. `.constraint`, `.invalidArgument` and `.internal` are the data's (or a bug's)
    /// and `.migrationFailed` happens only at open.
    public var isStorageFailure: Bool {
        switch code {
        case .io, .readOnly, .cannotOpen, .busy, .corrupt: true
        case .constraint, .invalidArgument, .internal, .migrationFailed, .fenced: false
        }
    }

    /// Whether the write was refused because this node no longer holds the lease (`fenced`): the work it
    /// carried is held (not counted against the messages) while the node steps down.
    public var isFenced: Bool { code == .fenced }

    /// Maps any error thrown by GRDB/SQLite to a `StoreError`, using
    /// `fallback` for errors that are not SQLite result codes.
    static func wrap(_ error: any Error, fallback: Code = .internal) -> StoreError {
        if let error = error as? StoreError { return error }
        guard let dbError = error as? DatabaseError else {
            return StoreError(fallback, String(describing: error))
        }
        let text = "SQLite error \(dbError.extendedResultCode.rawValue): \(dbError.message ?? "no message")"
        switch dbError.resultCode {
        case .SQLITE_CONSTRAINT: return StoreError(.constraint, text)
        case .SQLITE_CORRUPT, .SQLITE_NOTADB: return StoreError(.corrupt, text)
        case .SQLITE_IOERR, .SQLITE_FULL: return StoreError(.io, text)
        case .SQLITE_CANTOPEN, .SQLITE_PERM, .SQLITE_AUTH: return StoreError(.cannotOpen, text)
        case .SQLITE_BUSY, .SQLITE_LOCKED: return StoreError(.busy, text)
        case .SQLITE_READONLY: return StoreError(.readOnly, text)
        default: return StoreError(fallback, text)
        }
    }
}

/// Runs `body`, turning every thrown error into a `StoreError`.
@inline(__always)
func storeOperation<T>(fallback: StoreError.Code = .internal, _ body: () throws -> T) throws(StoreError) -> T {
    do {
        return try body()
    } catch {
        throw StoreError.wrap(error, fallback: fallback)
    }
}

/// Runs `body`, turning every thrown error into a `StoreError`: the async form, for GRDB's async access.
func storeOperation<T>(fallback: StoreError.Code = .internal, _ body: () async throws -> T) async throws(StoreError)
    -> T
{
    do {
        return try await body()
    } catch {
        throw StoreError.wrap(error, fallback: fallback)
    }
}
