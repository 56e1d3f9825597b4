import Foundation
import Logging
import PagodaJSON
import PagodaLifecycle
import PagodaRules
import PagodaStore

/// The five rates of today and of this month, kept current as the timeline grows: `UnitReport` (the
/// counting of `pagoda report`) fed each new timeline row once, by a task of its own, so a page reads
/// the last figures and never scans the events.
///
/// At start (and when the day changes) it reads the timeline from the first row of the month
/// (`console_days`), then every new row (`ConsoleStore.consoleEvents(after:limit:)`), at most every 300 ms. The
/// units' rows are made (with held tickets judged at that moment) after a round that read rows once the
/// last ones are at least a second old and four times as old as making them took (making them judges
/// every held ticket of the month, so its cost grows with them; under steady intake this task then takes
/// at most about a fifth of a core for it), and at least every 30 s; until the first catch-up ends,
/// pages show that they are being computed. A row the report cannot read is passed over, counted and logged
/// once. The task ends when the owner is released.
final class LiveRates: @unchecked Sendable {
    struct Snapshot: Sendable {
        var today: [UnitReport.Row] = []
        var month: [UnitReport.Row] = []
        var at: Date = .distantPast
        var ready = false
        var eventsRead = 0
        var unreadable = 0
    }

    private let store: any ConsoleStore
    private let logger: Logger
    private let offsetSeconds: Int
    private let clock: @Sendable () -> Date
    private let lock = NSLock()
    private var snapshot = Snapshot()

    // Owned by the feeding task (one round at a time).
    private var day = Int.min
    private var today = UnitReport(period: .init())
    private var month = UnitReport(period: .init())
    private var cursor: Int64 = 0
    private var unreadable = 0
    private var lastFold = Date.distantPast
    private var foldSeconds = 0.0

    init(store: any ConsoleStore, logger: Logger, offsetSeconds: Int, clock: @escaping @Sendable () -> Date) {
        self.store = store
        self.logger = logger
        self.offsetSeconds = offsetSeconds
        self.clock = clock
    }

    /// Starts the feeding task; it holds the rates weakly and stops once they are released.
    func start() {
        Task.detached(priority: .utility) { [weak self] in
            while let fed = await self?.round() {
                if !fed { try? await Task.sleep(for: .milliseconds(300)) }
            }
        }
    }

    /// The last figures.
    func current() -> Snapshot {
        lock.lock()
        defer { lock.unlock() }
        return snapshot
    }

    /// One round: restart at a new day, read up to 20,000 new rows, fold when due. True when it read rows
    /// (there may be more).
    func round() async -> Bool {
        let now = clock()
        let today = ConsoleDay.of(now)
        do {
            if today != day { try await restart(now: now, day: today) }
            let rows = try await store.consoleEvents(after: cursor, limit: 20_000)
            for row in rows { feed(row) }
            if let last = rows.last { cursor = last.rowID }
            let caughtUp = rows.count < 20_000
            let age = now.timeIntervalSince(lastFold)
            if (!rows.isEmpty && age >= max(1, 4 * foldSeconds) && (caughtUp || age > 5)) || age > 30 {
                fold(now: now, ready: caughtUp)
            }
            return !caughtUp
        } catch {
            logger.warning("console rates: cannot read the timeline", metadata: ["error": "\(error)"])
            return false
        }
    }

    private func restart(now: Date, day: Int) async throws {
        self.day = day
        let monthStart = Self.monthStart(now, offsetSeconds: offsetSeconds)
        let dayStart = Date(timeIntervalSince1970: Double(day) * 86_400 - Double(offsetSeconds))
        today = UnitReport(period: .init(from: dayStart))
        month = UnitReport(period: .init(from: monthStart))
        let first = try await store.consoleFirstEventID(onOrAfter: ConsoleDay.of(monthStart))
        if let first { cursor = first - 1 } else { cursor = try await store.consoleLastEventID() }
        lastFold = .distantPast
    }

    private func feed(_ row: DispatchStore.TimelineRow) {
        do {
            let object: JSONObject
            if let d = row.intakeDispatch {
                object = UnitReport.intakeDispatchEvent(
                    ticketID: row.ticketID, at: row.at, unit: d.unitID, level: d.level, signBy: d.signBy,
                    resolveBy: d.resolveBy, offsetSeconds: offsetSeconds)
            } else if case .object(let o) = try JSON.parse(row.json) {
                object = o
            } else {
                throw UnitReport.InputError(field: "(row)", message: "is not a JSON object")
            }
            try today.add(object)
            try month.add(object)
        } catch {
            unreadable += 1
            if unreadable == 1 {
                logger.warning(
                    "console rates: a timeline row is passed over",
                    metadata: [
                        "event.row": "\(row.rowID)", "ticket.id": "\(row.ticketID)", "error": "\(error)",
                    ])
            }
        }
    }

    private func fold(now: Date, ready: Bool) {
        lastFold = now
        let started = ContinuousClock.now
        defer {
            let d = ContinuousClock.now - started
            foldSeconds = Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
        }
        let s = Snapshot(
            today: today.units(asOf: now), month: month.units(asOf: now), at: now, ready: ready || current().ready,
            eventsRead: month.eventsRead, unreadable: unreadable)
        lock.lock()
        snapshot = s
        lock.unlock()
    }

    /// The first moment of the month `now` falls in, at the offset.
    static func monthStart(_ now: Date, offsetSeconds: Int) -> Date {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(secondsFromGMT: offsetSeconds)!
        let parts = calendar.dateComponents([.year, .month], from: now)
        return calendar.date(from: parts) ?? now
    }
}
