/// How a `DispatchStore` opens its SQLite file.
///
/// The store always uses WAL journaling and enforces foreign keys; only the
/// durability level and the lock wait are tunable.
public struct StoreConfiguration: Sendable, Hashable {
    /// SQLite durability level for the writer connection.
    ///
    /// - `full`: every commit is fsynced to the WAL before `recordDispatches`
    ///   returns. A power loss cannot lose an acknowledged ticket. Default.
    /// - `normal`: commits are fsynced at checkpoints only. A power loss (not a
    ///   process crash) may lose the last commits; the database stays consistent.
    ///   Because deliveries are acked after commit, a lost commit means a lost
    ///   ticket, so use `.normal` only where the broker can replay.
    public enum Synchronous: String, Sendable, Hashable, CaseIterable {
        case full = "FULL"
        case normal = "NORMAL"

        /// The integer `PRAGMA synchronous` reads back for this level.
        public var pragmaValue: Int {
            switch self {
            case .full: 2
            case .normal: 1
            }
        }
    }

    /// Path of the SQLite database file. Its directory is created (0700) if
    /// missing; the file (and its `-wal`/`-shm` companions) is created 0600.
    public var path: String
    /// Durability level, applied with `PRAGMA synchronous` on every connection.
    public var synchronous: Synchronous = .full
    /// How long a connection waits for another process's lock before failing
    /// with `StoreError.Code.busy`.
    public var busyTimeout: Duration = .seconds(5)
    /// Whether the owner runs `DispatchStore.checkpoint()` itself, off the commit path (the service does,
    /// every few hundred milliseconds). Otherwise the commit that grows the WAL past 1,000 pages copies it
    /// back into the database file, and that commit waits for the copy and its fsync. With background
    /// checkpoints a commit only does so past 65,536 pages (256 MiB), a safety limit for a stalled owner.
    public var backgroundCheckpoints: Bool = false

    public init(
        path: String, synchronous: Synchronous = .full, busyTimeout: Duration = .seconds(5),
        backgroundCheckpoints: Bool = false
    ) {
        self.path = path
        self.synchronous = synchronous
        self.busyTimeout = busyTimeout
        self.backgroundCheckpoints = backgroundCheckpoints
    }
}

/// `StoreConfiguration.Synchronous`, under the name used in the design notes.
public typealias Synchronous = StoreConfiguration.Synchronous
