import ArgumentParser
import Foundation
import PagodaJSON
import PagodaLifecycle
import PagodaRules
import PagodaSimulation

/// `pagoda simulate`: replays a scenario of tickets and commands on a virtual clock.
///
/// The scenario is read twice (`ScenarioRun`): a first pass checks every line (`FILE:LINE: reason` on
/// stderr and exit 1 before anything is simulated), a second pass applies them on three threads and
/// prints the events; a summary goes to stderr.
struct Simulate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replay a scenario of tickets and commands on a virtual clock; events as JSON lines on stdout.",
        discussion: """
            Each scenario line is {"at": TIME, "ticket": {...}} or {"at": TIME, "command": {...}} (RFC 3339 \
            times). Lines are applied in time order (equal times in file order); timers fire at their due \
            times in between. Without --until the run ends when no ticket waits for anything but \
            supervision reminders, which would otherwise repeat for ever; --until runs them to that time \
            and does not apply lines dated after it. A ticket with malformed optional fields is dispatched \
            without them, its ticket.dispatched event listing them in ticket_warnings; a ticket missing a \
            required field is a ticket.rejected record. A summary goes to stderr.
            """)

    @Option(name: .long, help: "The rule directory.")
    var rules: String = "rules"

    @Option(name: .long, help: "The scenario: JSON lines with \"at\" and \"ticket\" or \"command\".")
    var scenario: String

    @Option(name: .long, help: "End of virtual time (RFC 3339); reminders run until then.")
    var until: String?

    @Flag(name: .long, help: "Add each event's queues to its JSON.")
    var verbose = false

    func run() throws {
        var untilDate: Date?
        if let until {
            guard let d = RFC3339.parse(until)?.date else {
                printError("pagoda simulate: --until '\(until)' is not an RFC 3339 time with an offset\n")
                throw ExitCode(2)
            }
            untilDate = d
        }
        let ruleSet = try loadRuleSet(rules)
        let started = Date()

        // Pass 1: check every line and index it, the two halves of the file on two threads.
        let checked: ScenarioRun.FirstPass
        do {
            checked = try ScenarioRun.FirstPass.run(path: scenario)
        } catch {
            printError("pagoda simulate: \(error)\n")
            throw ExitCode(2)
        }
        let checkedAt = Date()
        let errors = checked.errors
        for (number, reason) in checked.firstErrors { printError("\(scenario):\(number): \(reason)\n") }
        if errors > 0 {
            if errors > 20 { printError("\(scenario): \(errors - 20) more invalid lines\n") }
            printError(
                "pagoda simulate: \(errors) invalid line\(errors == 1 ? "" : "s") in \(scenario); nothing simulated\n")
            throw ExitCode.failure
        }

        let report: ScenarioRun.Report
        do {
            report = try ScenarioRun.simulate(
                path: scenario, pass: checked, rules: ruleSet, until: untilDate, verbose: verbose)
        } catch {
            printError("pagoda simulate: \(error)\n")
            throw ExitCode(2)
        }
        let summary = report.summary
        let linesAppliedAt = report.linesAppliedAt
        let finishedAt = report.finishedAt
        let wall = Date().timeIntervalSince(started)
        var text = "simulated \(summary.tickets) tickets"
        if summary.rejectedTickets > 0 { text += " (+\(summary.rejectedTickets) rejected)" }
        text += ", \(summary.commands) commands (\(summary.rejectedCommands) refused), \(summary.events) events"
        if let a = summary.firstAt, let b = summary.lastAt {
            let offset = report.offsetSeconds
            text +=
                " over \(Self.duration(summary.span)) (\(RFC3339.format(a, offsetSeconds: offset)) .. \(RFC3339.format(b, offsetSeconds: offset)))"
        }
        text += String(
            format:
                " in %.2f s wall (checking %.2f s, lines %.2f s, timers after them %.2f s): %.0f tickets/s, %.0f events/s",
            wall, checkedAt.timeIntervalSince(started), linesAppliedAt.timeIntervalSince(checkedAt),
            finishedAt.timeIntervalSince(linesAppliedAt),
            Double(summary.tickets) / max(wall, 1e-9), Double(summary.events) / max(wall, 1e-9))
        if summary.skippedLines > 0 { text += "; \(summary.skippedLines) lines after --until not applied" }
        text +=
            "; open at end: \(summary.openTickets) (\(summary.remindingTickets) only awaiting supervision reminders)\n"
        printError(text)
    }
}

extension Simulate {
    static func duration(_ s: TimeInterval) -> String {
        let total = Int(s)
        let d = total / 86_400
        let h = total % 86_400 / 3600
        let m = total % 3600 / 60
        return d > 0 ? "\(d)d\(h)h\(m)m" : "\(h)h\(m)m"
    }
}
