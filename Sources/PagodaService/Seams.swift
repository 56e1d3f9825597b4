import Foundation
import PagodaJSON
import PagodaPostgres
import PagodaStore
import PagodaTransport

// The seams of the service layer: what intake, the lifecycle loop and the outbox relay need from the broker
// and the store, and no more. The adapters conform below (rabbitmq-c's `AMQPConsumer` and `AMQPPublisher`,
// GRDB's `DispatchStore`); the in-memory fakes of `PagodaTesting` conform for unit tests without a broker
// or a file. A second store backend conforms to the three store protocols. The messages crossing a seam
// are plain values (`Delivery`, `AMQPMessage`, `IntakeRecord`, `LifecycleChange`, `OutboxEntry`).

/// Deliveries in: a queue consumed with manual acknowledgements.
///
/// `deliveries` ends once the source is closed and what it received was handed over. Each delivery is
/// settled once: `ack` when it is done with, `nack` to give it back (`requeue`: the queue delivers it
/// again, counting an attempt in `x-delivery-count`). A settlement for a delivery of an earlier connection
/// is dropped (the broker delivers it again).
public protocol DeliverySource: Sendable {
    var deliveries: AsyncStream<Delivery> { get }
    func ack(_ delivery: Delivery)
    func nack(_ delivery: Delivery, requeue: Bool)
    /// Stops receiving; waits up to `timeout` for the deliveries handed over to be settled.
    func close(timeout: Duration) async
}

/// Messages out: publishes with publisher confirms.
public protocol MessagePublisher: Sendable {
    /// Publishes `message` and returns the broker's verdict (confirmed, returned as unroutable, nacked, or
    /// unknown when the connection dropped first); throws when it could not be sent at all (closed).
    func publish(_ message: AMQPMessage) async throws -> PublishOutcome
    /// Stops publishing; publishes still waiting for a confirm end as `outcomeUnknown`.
    func close(timeout: Duration) async
}

/// What intake needs from the store: one atomic commit per batch.
///
/// Failures are `StoreError`s; one for the store's reasons (`isStorageFailure`) says nothing about the
/// records, and the service tries the same batch again (`StoreHealth`).
public protocol IntakeStore: Sendable {
    /// Commits a batch of processed deliveries in ONE transaction: per record the inbox entry (a ticket id
    /// seen before gives `.duplicate` and writes nothing), ticket, decision, deadlines, event, lifecycle
    /// start and outbox rows, or the rejection with its outbox row. One outcome per record, in order. On
    /// error nothing is written.
    func recordDispatches(_ records: [IntakeRecord]) async throws(StoreError) -> [IntakeOutcome]
}

/// What the outbox relay needs from the store.
public protocol OutboxStore: Sendable {
    /// Unsent outbox entries with an id above `cursor`, oldest first, at most `limit`. Ids grow in commit
    /// order, so a relay that remembers the highest id taken reads only new entries.
    func pendingOutbox(after cursor: Int64, limit: Int) async throws(StoreError) -> [OutboxEntry]
    /// Marks entries confirmed by the broker, in one transaction; marking one twice changes nothing.
    /// Returns how many changed from unsent to sent.
    @discardableResult
    func markSent(_ ids: [Int64], at: Date) async throws(StoreError) -> Int
    /// How many entries are not yet marked sent.
    func outboxBacklog() async throws(StoreError) -> Int
}

/// What the lifecycle loop needs from the store: states, timers, and one atomic commit per batch.
public protocol LifecycleStore: Sendable {
    /// The lifecycle states of the given tickets (missing ids absent); without `withTicket` the records'
    /// `ticketBody` is empty.
    func lifecycle(_ ticketIDs: [String], withTicket: Bool) async throws(StoreError) -> [String: LifecycleRecord]
    /// The tickets as received, by id (missing ids absent).
    func ticketBodies(_ ticketIDs: [String]) async throws(StoreError) -> [String: [UInt8]]
    /// Timers due at or before `until`, by due time then ticket id, after `after`, at most `limit`.
    func dueTimers(until: Date, after: DueTimer?, limit: Int) async throws(StoreError) -> [DueTimer]
    /// When the earliest timer falls due; nil when none is pending.
    func nextTimerDue() async throws(StoreError) -> Date?
    /// Writes a batch of lifecycle changes in ONE transaction: a command id seen before gives
    /// `.duplicateCommand`, a state whose version is not the expected one `.conflict` (both write nothing);
    /// otherwise the state, its timer, the timeline rows and the outbox rows: `.applied`.
    func applyLifecycle(_ changes: [LifecycleChange]) async throws(StoreError) -> [LifecycleOutcome]
}

/// What the status endpoint reads of the store for `/metrics`.
public protocol StatusStore: Sendable {
    func outboxBacklog() async throws(StoreError) -> Int
    /// Tickets by holding unit and phase, pending timers and those due by `now`, from one snapshot.
    func lifecycleOverview(now: Date) async throws(StoreError) -> LifecycleOverview
    /// The sizes of the store's files and the room left beside them; nil for a store without local files.
    func storeFileSizes() -> StoreFileSizes?
}

/// What outbox retention needs: deleting confirmed rows older than a cutoff, a short batch at a time.
public protocol OutboxPruning: Sendable {
    @discardableResult
    func pruneSentOutbox(sentBefore: Date, limit: Int) async throws(StoreError) -> Int
}

/// The rejected intake messages and what operators did with them (`RejectionDesk`, `pagoda rejected`).
public protocol RejectionStore: Sendable {
    /// Newest first; only those with `status` when given; at most `limit` (1...10,000).
    func rejections(status: RejectionEntry.Status?, limit: Int) async throws(StoreError) -> [RejectionEntry]
    func rejection(id: Int64) async throws(StoreError) -> RejectionEntry?
    /// Records one action on an open rejection in one transaction (`.constraint` if it is not open).
    @discardableResult
    func recordRejectionAction(id: Int64, _ action: RejectionAction) async throws(StoreError) -> RejectionEntry
}

/// Everything `pagoda serve` runs on: either backend.
public protocol ServingStore: IntakeStore, OutboxStore, LifecycleStore, StatusStore, OutboxPruning {}

extension AMQPConsumer: DeliverySource {}
extension AMQPPublisher: MessagePublisher {}
/// SQLite through GRDB's async access: writes on the pool's single writer connection (its serial queue,
/// so commits of intake, the lifecycle loop and the relay never overlap), reads on its reader connections;
/// neither blocks a thread of the Swift concurrency pool.
extension DispatchStore: IntakeStore, OutboxStore, LifecycleStore, ServingStore, RejectionStore {
    public func storeFileSizes() -> StoreFileSizes? { fileSizes() }
}
/// PostgreSQL through postgres-nio's pool: every write one transaction under the store's writer lock (so
/// commits of intake, the lifecycle loop and the relay never interleave, and outbox ids grow in commit
/// order), reads on other pooled connections; nothing blocks a thread of the Swift concurrency pool.
extension PostgresStore: IntakeStore, OutboxStore, LifecycleStore, ServingStore, RejectionStore {
    /// The database's files are the server's: none to measure here.
    public func storeFileSizes() -> StoreFileSizes? { nil }
}
