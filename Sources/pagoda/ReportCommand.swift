import ArgumentParser
import Foundation
import Logging
import PagodaJSON
import PagodaLifecycle
import PagodaPostgres
import PagodaRules
import PagodaStore

/// `pagoda report`: each unit's response, completion, on-time, satisfaction and resolution rates over a
/// period, ranked, from the service's database or from a file of event messages (`pagoda simulate`'s
/// output, or an archive of `pagoda.events`). The counting is `UnitReport`'s.
struct Report: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Rank the units on response, completion, on-time, satisfaction and resolution rates over a period.",
        discussion: """
            Counts each time a unit was given a ticket (dispatch, return, redispatch, escalation) within the \
            period, and what it did while it held the ticket, judged at --as-of. Dates are China Standard \
            Time (+08:00): --from 2026-03-01 --to 2026-03-31 is the whole of March; RFC 3339 times are exact \
            (--to excluded). docs/operations.md defines each rate.
            """)

    @Option(
        help: ArgumentHelp(
            "The service's database: a SQLite file or postgres://USER@HOST:PORT/DB. Default: $PAGODA_DB, else pagoda.sqlite, unless --events is given.",
            valueName: "file-or-url"))
    var db: String?

    @Option(
        help:
            "Event messages as JSON lines instead of a database (- for standard input): pagoda simulate's output or an archive of pagoda.events."
    )
    var events: String?

    @Option(help: "First day (YYYY-MM-DD) or time (RFC 3339) of the period; default: from the first event.")
    var from: String?

    @Option(help: "Last day (YYYY-MM-DD, included) or end time (RFC 3339, excluded); default: to the last event.")
    var to: String?

    @Option(
        name: .customLong("as-of"),
        help:
            "When deadlines of tickets still held are judged (RFC 3339); default: now for --db, the last event for --events."
    )
    var asOf: String?

    @Option(name: .customLong("rank-by"), help: "The rate to rank the units by.")
    var rankBy: UnitReport.Metric = .satisfaction

    @Option(help: "Only units of this level: city, district, town or village.")
    var level: String?

    @Option(help: "Output format.")
    var format: Format = .text

    enum Format: String, ExpressibleByArgument { case text, json, csv }

    static let offset = 8 * 3600

    func validate() throws {
        if db != nil && events != nil { throw ValidationError("give --db or --events, not both") }
        if let level, Level(name: level) == nil {
            throw ValidationError("--level '\(level)' is not one of city, district, town, village")
        }
    }

    func run() async throws {
        do {
            try await report()
        } catch let failure as Failure {
            printError("pagoda: \(failure)\n")
            throw ExitCode.failure
        }
    }

    func report() async throws {
        let from = try from.map { try Self.bound($0, option: "--from", endOfDay: false) }
        let to = try to.map { try Self.bound($0, option: "--to", endOfDay: true) }
        if let from, let to, to <= from { throw ValidationError("--to is not after --from") }
        let given = try asOf.map { value in
            guard let d = RFC3339.parse(value)?.date else {
                throw ValidationError("--as-of '\(value)' is not an RFC 3339 time with an offset")
            }
            return d
        }
        var report = UnitReport(period: .init(from: from, to: to))
        let asOf: Date
        if let events {
            var last = Date.distantPast
            let name = events == "-" ? "(standard input)" : events
            try Self.readLines(events) { line, number in
                do {
                    guard case .object(let o) = try JSON.parse(line) else {
                        throw UnitReport.InputError(field: "(line)", message: "is not a JSON object")
                    }
                    try report.add(o)
                    if let at = o["at"]?.stringValue.flatMap({ RFC3339.parse($0)?.date }), at > last { last = at }
                } catch let e as UnitReport.InputError {
                    throw Failure("\(name):\(number): \(e)")
                } catch {
                    throw Failure("\(name):\(number): not JSON: \(error)")
                }
            }
            asOf = given ?? last
        } else {
            var path = db ?? ProcessInfo.processInfo.environment["PAGODA_DB"] ?? "pagoda.sqlite"
            var failure: String?
            let add = { (row: DispatchStore.TimelineRow) -> Bool in
                do {
                    // The intake's dispatch row is made into its event from the decision; its own JSON is not read.
                    if let d = row.intakeDispatch {
                        try report.add(Self.event(intakeDispatch: d, ticketID: row.ticketID, at: row.at))
                    } else if case .object(let o) = try JSON.parse(row.json) {
                        try report.add(o)
                    } else {
                        throw UnitReport.InputError(field: "(row)", message: "is not a JSON object")
                    }
                    return true
                } catch {
                    failure = "\(path): event row \(row.rowID) of ticket \(row.ticketID): \(error)"
                    return false
                }
            }
            if PostgresStoreConfiguration.isURL(path) {
                let configuration = try PostgresStoreConfiguration(url: path)
                path = configuration.description
                let store = try await PostgresStore.open(configuration, logger: Logger(label: "pagoda.report"))
                do {
                    try await store.forEachEvent(add)
                } catch {
                    await store.close()
                    throw error
                }
                await store.close()
            } else {
                guard FileManager.default.fileExists(atPath: path) else { throw Failure("no database at \(path)") }
                try DispatchStore(StoreConfiguration(path: path)).forEachEvent(add)
            }
            if let failure { throw Failure(failure) }
            asOf = given ?? Date()
        }
        var rows = report.units(asOf: asOf)
        if let level { rows = rows.filter { $0.level?.name == level } }
        let ranked = UnitReport.ranked(rows, by: rankBy)
        let total = UnitReport.total(rows)
        switch format {
        case .text:
            print(
                Self.text(
                    ranked, total: total, by: rankBy, from: from, to: to, asOf: asOf, eventsRead: report.eventsRead),
                terminator: "")
        case .json: print(Self.json(ranked, total: total, by: rankBy, from: from, to: to, asOf: asOf))
        case .csv: print(Self.csv(ranked, total: total), terminator: "")
        }
    }

    /// The intake's dispatch row of the store as the `ticket.dispatched` event the report reads.
    static func event(intakeDispatch d: DispatchStore.IntakeDispatch, ticketID: String, at: Date) -> JSONObject {
        UnitReport.intakeDispatchEvent(
            ticketID: ticketID, at: at, unit: d.unitID, level: d.level, signBy: d.signBy,
            resolveBy: d.resolveBy, offsetSeconds: offset)
    }

    /// An error already worded for the user: printed as it is, exit status 1.
    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ d: String) { description = d }
    }

    /// A period bound: a day in China Standard Time (its start, or for `--to` the start of the next day)
    /// or an RFC 3339 time.
    static func bound(_ value: String, option: String, endOfDay: Bool) throws -> Date {
        if let d = RFC3339.parse(value)?.date { return d }
        let day = value.split(separator: "-", omittingEmptySubsequences: false)
        guard day.count == 3, day[0].count == 4, day[1].count == 2, day[2].count == 2,
            let start = RFC3339.parse("\(value)T00:00:00+08:00")?.date
        else {
            throw ValidationError(
                "\(option) '\(value)' is neither a day (YYYY-MM-DD) nor an RFC 3339 time with an offset")
        }
        return endOfDay ? start.addingTimeInterval(86_400) : start
    }

    /// Each non-blank line of the file (or standard input) with its number, read in blocks.
    static func readLines(_ path: String, _ body: ([UInt8], Int) throws -> Void) throws {
        let handle: FileHandle
        if path == "-" {
            handle = .standardInput
        } else {
            guard let h = FileHandle(forReadingAtPath: path) else { throw Failure("cannot open '\(path)'") }
            handle = h
        }
        defer { if path != "-" { try? handle.close() } }
        var pending: [UInt8] = []
        var number = 0
        func emit(_ line: ArraySlice<UInt8>) throws {
            number += 1
            if line.contains(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0D }) { try body(Array(line), number) }
        }
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            pending += chunk
            var start = pending.startIndex
            while let nl = pending[start...].firstIndex(of: 0x0A) {
                try emit(pending[start..<nl])
                start = nl + 1
            }
            pending.removeSubrange(..<start)
        }
        if !pending.isEmpty { try emit(pending[...]) }
    }

    // MARK: - Output

    static func percent(_ r: Double?) -> String { r.map { String(format: "%.1f%%", $0 * 100) } ?? "-" }

    static func text(
        _ rows: [UnitReport.Row], total: UnitReport.Row, by metric: UnitReport.Metric, from: Date?, to: Date?,
        asOf: Date, eventsRead: Int
    ) -> String {
        func t(_ d: Date?) -> String { d.map { RFC3339.format($0, offsetSeconds: offset) } ?? "-" }
        let period =
            switch (from, to) {
            case (let f?, let u?): "assignments begun from \(t(f)) until \(t(u))"
            case (let f?, nil): "assignments begun from \(t(f))"
            case (nil, let u?): "assignments begun until \(t(u))"
            case (nil, nil): "all assignments"
            }
        var out = "units ranked by \(metric.rawValue); \(period); judged at \(t(asOf)); \(eventsRead) events\n"
        let header = [
            "rank", "unit", "level", "assigned", "response", "completion", "on_time", "satisfaction", "resolution",
            "red", "escalated", "returned", "supervised", "held",
        ]
        var table = [header]
        func cells(_ rank: String, _ r: UnitReport.Row) -> [String] {
            [
                rank, r.unit, r.level?.name ?? "-", "\(r.received)", percent(r.responseRate), percent(r.completionRate),
                percent(r.onTimeRate),
                percent(r.satisfactionRate), percent(r.resolutionRate), "\(r.overdue)", "\(r.escalatedAway)",
                "\(r.returned)",
                "\(r.supervised)", "\(r.held)",
            ]
        }
        for (i, r) in rows.enumerated() { table.append(cells(r.rate(metric) == nil ? "-" : "\(i + 1)", r)) }
        table.append(cells("", total))
        let widths = header.indices.map { c in table.map { $0[c].count }.max() ?? 0 }
        for row in table {
            // Names and numbers left, rates and counts right.
            let line = row.enumerated().map { c, cell in
                let pad = String(repeating: " ", count: widths[c] - cell.count)
                return c == 1 || c == 2 ? cell + pad : pad + cell
            }
            out +=
                line.joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
                + "\n"
        }
        return out
    }

    static func counts(_ r: UnitReport.Row) -> [(String, JSONValue)] { UnitReport.fields(r) }

    static func json(
        _ rows: [UnitReport.Row], total: UnitReport.Row, by metric: UnitReport.Metric, from: Date?, to: Date?,
        asOf: Date
    ) -> String {
        func t(_ d: Date?) -> JSONValue { d.map { .string(RFC3339.format($0, offsetSeconds: offset)) } ?? .null }
        let units: [JSONValue] = rows.enumerated().map { i, r in
            .object(JSONObject([("rank", r.rate(metric) == nil ? .null : .number(String(i + 1)))] + counts(r)))
        }
        return JSON.serializeToString(
            .object(
                JSONObject([
                    ("ranked_by", .string(metric.rawValue)), ("from", t(from)), ("to", t(to)), ("as_of", t(asOf)),
                    ("units", .array(units)), ("total", .object(JSONObject(counts(total)))),
                ])))
    }

    static func csv(_ rows: [UnitReport.Row], total: UnitReport.Row) -> String { UnitReport.csv(rows, total: total) }
}

extension UnitReport.Metric: ExpressibleByArgument {}
