import Foundation
import Logging
import PagodaPostgres
import PagodaService
import PagodaStore
import PagodaTesting
import Testing

/// The store backends the conformance suite runs its test bodies against.
enum Backend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite, postgres

    var testDescription: String { rawValue }

    /// Opens a fresh, empty store of this backend: a new SQLite file in a temporary directory, or a new
    /// database on the test server (`TestPostgres`). `close` removes it again.
    func open() async throws -> OpenedStore {
        switch self {
        case .sqlite:
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
                "pagoda-conformance-\(UUID().uuidString)", isDirectory: true)
            let store = try DispatchStore(StoreConfiguration(path: dir.appendingPathComponent("pagoda.sqlite").path))
            return OpenedStore(store: store) {
                try? store.close()
                try? FileManager.default.removeItem(at: dir)
            }
        case .postgres:
            let database = try await TestPostgres.createDatabase()
            let store = try await PostgresStore.open(database, logger: TestPostgres.logger)
            return OpenedStore(store: store) {
                await store.close()
                await TestPostgres.dropDatabase(database.database)
            }
        }
    }
}

struct OpenedStore: Sendable {
    let store: any StoreUnderTest
    let close: @Sendable () async -> Void
}

/// Runs `body` on a fresh store of `backend`, which is removed afterwards whatever `body` did.
func withStore(_ backend: Backend, _ body: (any StoreUnderTest) async throws -> Void) async throws {
    let opened = try await backend.open()
    do {
        try await body(opened.store)
    } catch {
        await opened.close()
        throw error
    }
    await opened.close()
}

/// A store under test: the service's seams, the console's store and what `pagoda show` and `report` read.
protocol StoreUnderTest: IntakeStore, OutboxStore, LifecycleStore, RejectionStore, ConsoleStore {
    func history(_ ticketID: String) async throws -> TicketHistory?
    func rowCounts() async throws -> StoreCounts
    func timeline() async throws -> [DispatchStore.TimelineRow]
    func migrations() async throws -> [String]
    func prune(sentBefore: Date, limit: Int) async throws -> Int
}

extension DispatchStore: StoreUnderTest {
    func history(_ ticketID: String) async throws -> TicketHistory? { try await ticket(id: ticketID) }
    func rowCounts() async throws -> StoreCounts { try counts() }
    func timeline() async throws -> [DispatchStore.TimelineRow] {
        var rows: [DispatchStore.TimelineRow] = []
        try forEachEvent {
            rows.append($0)
            return true
        }
        return rows
    }
    func migrations() async throws -> [String] { try appliedMigrations() }
    func prune(sentBefore: Date, limit: Int) async throws -> Int {
        try await pruneSentOutbox(sentBefore: sentBefore, limit: limit)
    }
}

extension PostgresStore: StoreUnderTest {
    func history(_ ticketID: String) async throws -> TicketHistory? { try await ticket(id: ticketID) }
    func rowCounts() async throws -> StoreCounts { try await counts() }
    func timeline() async throws -> [DispatchStore.TimelineRow] {
        var rows: [DispatchStore.TimelineRow] = []
        try await forEachEvent {
            rows.append($0)
            return true
        }
        return rows
    }
    func migrations() async throws -> [String] { try await appliedMigrations() }
    func prune(sentBefore: Date, limit: Int) async throws -> Int {
        try await pruneSentOutbox(sentBefore: sentBefore, limit: limit)
    }
}
