import ArgumentParser
import Foundation
import PagodaJSON
import PagodaRules

struct Route: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Route one ticket, or a JSONL file of tickets, and explain each decision.",
        discussion:
            "Reads a JSON ticket (contract v1) or one ticket per line. An invalid ticket prints its validation errors and the batch goes on; the exit code is 1 if any ticket was invalid."
    )

    @OptionGroup var rules: RulesOption

    @Flag(help: "One JSON object per line.")
    var json = false

    @Flag(help: "Also explain the nearest routes that did not match.")
    var explainMisses = false

    @Option(help: "The queue-name prefix shown in destinations.")
    var queuePrefix = "pagoda"

    @Argument(help: "A file of tickets, or - for standard input.")
    var input: String = "-"

    func run() throws {
        let ruleSet = try loadRuleSet(rules.rules)
        let data: Data
        if input == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            // Through a handle, so that a pipe or a process substitution (`<(...)`) reads too.
            guard let handle = FileHandle(forReadingAtPath: input), let d = try? handle.readToEnd() ?? Data() else {
                printError("pagoda: cannot read '\(input)'\n")
                throw ExitCode(2)
            }
            data = d
        }
        let bytes = [UInt8](data)
        // A single (possibly pretty-printed) JSON document, or JSON Lines: lines of which one at least is an
        // object on its own. A broken pretty-printed document is read whole, so its error names where.
        var documents: [(line: Int, bytes: ArraySlice<UInt8>)] = []
        if (try? JSON.parse(bytes)) == nil {
            var line = 1
            var start = 0
            for (i, b) in bytes.enumerated() where b == UInt8(ascii: "\n") {
                documents.append((line, bytes[start..<i]))
                start = i + 1
                line += 1
            }
            if start < bytes.count { documents.append((line, bytes[start...])) }
            documents.removeAll { doc in doc.bytes.allSatisfy { $0 == 32 || $0 == 9 || $0 == 13 } }
        }
        if !documents.contains(where: { doc in (try? JSON.parse(Array(doc.bytes)))?.objectValue != nil }) {
            documents = [(1, bytes[...])]
        }
        var invalid = 0
        for doc in documents {
            switch TicketContract.decode(Array(doc.bytes), isKnownCategory: ruleSet.isKnownCategory) {
            case .failure(let error):
                invalid += 1
                let id = (try? JSON.parse(Array(doc.bytes))).flatMap { v -> String? in
                    if case .object(let o) = v, case .string(let s)? = o["id"] { return s }
                    return nil
                }
                if json {
                    let issues: [JSONValue] = error.issues.map(\.json)
                    let line = JSONValue.object(
                        JSONObject([
                            ("ticket_id", id.map { .string($0) } ?? .null), ("line", .number(String(doc.line))),
                            ("error", .object(JSONObject([("issues", .array(issues))]))),
                        ]))
                    print(String(decoding: JSON.serialize(line), as: UTF8.self))
                } else {
                    print("line \(doc.line)\(id.map { " (\($0))" } ?? ""): invalid ticket")
                    for issue in error.issues { print("  \(issue)") }
                }
            case .success(let ticket):
                let decision = ruleSet.route(ticket, explainMisses: explainMisses)
                let offset = ruleSet.calendar.utcOffsetSeconds(at: ticket.receivedAt)
                if json {
                    print(
                        String(
                            decoding: JSON.serialize(decision.json(queuePrefix: queuePrefix, offsetSeconds: offset)),
                            as: UTF8.self))
                } else {
                    print(Self.describe(decision, offset: offset, prefix: queuePrefix))
                }
            }
        }
        if invalid > 0 { throw ExitCode.failure }
    }

    static func describe(_ d: Decision, offset: Int, prefix: String) -> String {
        var out: [String] = []
        let queue = "\(prefix).\(d.queue)"
        switch d.type {
        case .emergency: out.append("\(d.ticketID) -> emergency hand-off to \(d.emergencyLine ?? "?")  queue \(queue)")
        default:
            let u = d.unit!
            out.append("\(d.ticketID) -> \(d.type.rawValue) \(u.id) \(u.name) (\(u.level))  queue \(queue)")
        }
        out.append("  rule \(d.rule.id) (\(d.rule.file):\(d.rule.line)), rules \(d.rulesHash.prefix(12))")
        out.append(
            "  category \(d.category ?? "none"), urgency \(d.urgency.rawValue)\(d.enterprise ? ", enterprise green channel" : ""), priority \(d.priority)"
        )
        if let p = d.slaProfile {
            out.append(
                "  sla \(p): "
                    + d.deadlines.map { "\($0.clock.deadlineKey) \(RFC3339.format($0.due, offsetSeconds: offset))" }
                    .joined(separator: ", "))
        }
        if !d.coHandlers.isEmpty { out.append("  co-handlers: " + d.coHandlers.map(\.id).joined(separator: ", ")) }
        if !d.escalationChain.isEmpty {
            out.append("  escalation (\(d.escalationPolicy)): " + d.escalationChain.map(\.id).joined(separator: " -> "))
        }
        for w in d.ticketWarnings {
            out.append("  warning: \(w.message) [\(w.code.rawValue)]; routed without \(w.path)")
        }
        for w in d.warnings { out.append("  warning: \(w)") }
        out.append("  why:")
        for e in d.explanation { out.append("    - \(e)") }
        return out.joined(separator: "\n")
    }
}
