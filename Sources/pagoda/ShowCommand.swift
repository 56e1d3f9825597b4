import ArgumentParser
import Foundation
import Logging
import PagodaJSON
import PagodaLifecycle
import PagodaPostgres
import PagodaRules
import PagodaService
import PagodaStore
import PagodaTransport

struct Show: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a ticket's decision (with a degraded ticket's warnings) and history from the database.")

    @Argument(help: "The ticket id.")
    var ticketID: String

    @Option(
        help: ArgumentHelp(
            "The SQLite database file, or postgres://USER@HOST:PORT/DB. Default: $PAGODA_DB, else pagoda.sqlite.",
            valueName: "file-or-url"))
    var db: String = ProcessInfo.processInfo.environment["PAGODA_DB"] ?? "pagoda.sqlite"

    @Flag(help: "Print the stored decision as JSON.")
    var json = false

    func run() async throws {
        let history: TicketHistory?
        let stored: LifecycleRecord?
        let name: String
        if PostgresStoreConfiguration.isURL(db) {
            let configuration = try PostgresStoreConfiguration(url: db)
            name = configuration.description
            let store = try await PostgresStore.open(configuration, logger: Logger(label: "pagoda.show"))
            do {
                history = try await store.ticket(id: ticketID)
                stored = try await store.lifecycle([ticketID], withTicket: false)[ticketID]
            } catch {
                await store.close()
                throw error
            }
            await store.close()
        } else {
            guard FileManager.default.fileExists(atPath: db) else {
                printError("pagoda: no database at \(db)\n")
                throw ExitCode(2)
            }
            name = db
            let store = try DispatchStore(StoreConfiguration(path: db))
            history = try await store.ticket(id: ticketID)
            stored = try await store.lifecycle([ticketID], withTicket: false)[ticketID]
        }
        guard let h = history else {
            printError("pagoda: no ticket '\(ticketID)' in \(name)\n")
            throw ExitCode.failure
        }
        if json, let d = h.decisions.last {
            print(String(decoding: d.row.decisionJSON, as: UTF8.self))
            return
        }
        let offset = 8 * 3600
        func t(_ d: Date) -> String { RFC3339.format(d, offsetSeconds: offset) }
        print(
            "ticket \(h.ticket.id)  state \(h.ticket.state)  received \(t(h.ticket.receivedAt))  dispatch #\(h.ticket.dispatchSequence)"
        )
        for d in h.decisions {
            let r = d.row
            print(
                "decision #\(d.dispatchSequence) at \(t(d.createdAt)): \(r.destinationType.rawValue) \(r.unitID ?? "-") (\(r.level ?? "-"))  queue \(r.queue)"
            )
            print(
                "  rule \(r.ruleID) (\(r.ruleFile):\(r.ruleLine)), rules \(r.rulesHash.prefix(12)); category \(r.category ?? "none"), urgency \(r.urgency), sla \(r.slaProfile ?? "-")"
            )
            for w in Self.ticketWarnings(r.decisionJSON) { print("  warning: \(w)") }
        }
        if !h.deadlines.isEmpty {
            print("deadlines: " + h.deadlines.map { "\($0.clock) \(t($0.dueAt))" }.joined(separator: ", "))
        }
        if let life = stored,
            let state = try? LifecycleCodec(names: Names(), offsetSeconds: offset).decode(life.state)
        {
            var line = "lifecycle: \(state.phase.rawValue)"
            if let holder = state.holder { line += ", held by \(holder.unit) (\(holder.level.name))" }
            if state.supervised { line += ", supervised" }
            if !state.coHandlers.isEmpty { line += ", co-handlers \(state.coHandlers.joined(separator: ", "))" }
            if state.reworks > 0 { line += ", reworks \(state.reworks)" }
            if state.returns > 0 { line += ", returns \(state.returns)" }
            if let r = state.repeatOf { line += ", repeats \(r)" }
            print(line)
            let running = state.clocks.filter(\.isRunning)
            if !running.isEmpty {
                let shown = running.map {
                    "\($0.clock.rawValue) due \(t($0.due))" + ($0.overdue ? " (overdue)" : "")
                        + ($0.pausedAt != nil ? " (paused)" : "")
                }
                print("clocks: " + shown.joined(separator: ", "))
            }
            if let next = state.nextTimer { print("next timer: \(t(next))") }
        }
        print("timeline:")
        for e in h.events { print("  \(t(e.at))  \(e.type)\(Self.summary(e.payloadJSON))") }
        for m in h.messages {
            print(
                "  message \(m.outbox.message.messageID) -> \(m.outbox.message.exchange) [\(([m.outbox.message.routingKey] + m.outbox.message.extraRoutingKeys).joined(separator: ", "))]: "
                    + (m.sentAt.map { "confirmed \(t($0))" } ?? "not yet confirmed"))
        }
    }
}

extension Show {
    /// The stored decision's `ticket_warnings` (the optional fields intake left out), each as
    /// `MESSAGE [CODE]`; none when the decision has none or is not readable. The messages were masked when
    /// they were made (a malformed phone shows as `"********67" (masked)`), so they are printed as stored.
    static func ticketWarnings(_ decisionJSON: [UInt8]) -> [String] {
        guard case .object(let o)? = try? JSON.parse(decisionJSON),
            case .array(let warnings)? = o["ticket_warnings"]
        else { return [] }
        return warnings.compactMap { w in
            guard let message = w.objectValue?["message"]?.stringValue else { return nil }
            return message + (w.objectValue?["code"]?.stringValue.map { " [\($0)]" } ?? "")
        }
    }

    /// The event's holder and particular fields, compactly (`  nanhai.shishan (town)  clock=sign`).
    static func summary(_ payload: [UInt8]) -> String {
        guard case .object(let o)? = try? JSON.parse(payload) else { return "" }
        var out = ""
        if let unit = o["unit"]?.stringValue { out += "  \(unit)" + (o["level"]?.stringValue.map { " (\($0))" } ?? "") }
        let skip: Set<String> = ["event", "event_id", "at", "ticket_id", "unit", "level"]
        for (k, v) in o where !skip.contains(k) {
            switch v {
            case .string(let s): out += "  \(k)=\(s.count > 60 ? String(s.prefix(60)) + "..." : s)"
            case .number(let n): out += "  \(k)=\(n)"
            case .bool(let b): out += "  \(k)=\(b)"
            case .null: continue
            default: out += "  \(k)=" + JSON.serializeToString(v)
            }
        }
        return out
    }
}

struct TopologyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topology",
        abstract: "Print the exchanges, queues and bindings `pagoda serve` declares, as a RabbitMQ definitions file.")

    @OptionGroup var rules: RulesOption

    @Option(help: "Prefix of every exchange and queue name, as serve's (default: $PAGODA_PREFIX, else pagoda).")
    var prefix: String = ProcessInfo.processInfo.environment["PAGODA_PREFIX"] ?? "pagoda"

    @Option(help: "The virtual host named in the definitions.")
    var vhost: String = "/"

    func run() throws {
        let ruleSet = try loadRuleSet(rules.rules)
        print(Names(prefix: prefix).definitions(for: ruleSet, vhost: vhost))
    }
}
