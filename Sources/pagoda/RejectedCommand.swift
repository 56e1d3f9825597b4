import ArgumentParser
import Foundation
import Logging
import PagodaJSON
import PagodaPostgres
import PagodaRules
import PagodaService
import PagodaStore
import PagodaTransport

struct Rejected: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List, show, resubmit or drop the intake messages the service rejected.",
        discussion: """
            Works on the service's database (--db), which keeps every rejected body. A rejection is open until an \
            operator resubmits it (a fixed body, or the stored one, published to intake with confirms, where it is \
            validated again) or drops it with a reason; who did it and when is recorded, and each rejection takes one \
            action only. Phone numbers in bodies and reasons are shown masked unless --unmasked is given.
            """,
        subcommands: [List.self, ShowOne.self, Resubmit.self, Drop.self])

    /// The database option of every subcommand: the service's SQLite file (which must exist) or PostgreSQL.
    struct Database: ParsableArguments {
        @Option(
            help:
                "The SQLite database file, or postgres://USER@HOST:PORT/DB. Default: $PAGODA_DB, else pagoda.sqlite.")
        var db: String = ProcessInfo.processInfo.environment["PAGODA_DB"] ?? "pagoda.sqlite"

        /// The database as messages name it: a PostgreSQL URL without its password.
        var label: String { (try? PostgresStoreConfiguration(url: db).description) ?? db }

        /// Runs `body` on the store, closed again afterwards.
        func with<T>(_ body: (any RejectionStore) async throws -> T) async throws -> T {
            guard PostgresStoreConfiguration.isURL(db) else {
                guard FileManager.default.fileExists(atPath: db) else {
                    printError("pagoda: no database at \(db)\n")
                    throw ExitCode(2)
                }
                return try await body(try DispatchStore(StoreConfiguration(path: db)))
            }
            let store = try await PostgresStore.open(
                try PostgresStoreConfiguration(url: db), logger: Logger(label: "pagoda.rejected"))
            do {
                let result = try await body(store)
                await store.close()
                return result
            } catch {
                await store.close()
                throw error
            }
        }
    }

    /// Who acts: --by, else $USER.
    struct Operator: ParsableArguments {
        @Option(help: "Who acts, as recorded with the action. Default: $USER; one of them is required.")
        var by: String?

        func name() throws -> String {
            let name = (by ?? ProcessInfo.processInfo.environment["USER"] ?? "").trimmingCharacters(in: .whitespaces)
            guard !name.isEmpty else { throw ValidationError("--by NAME is required when $USER is not set") }
            return name
        }
    }

    static func time(_ d: Date) -> String { RFC3339.format(d, offsetSeconds: 8 * 3600) }

    static func text(_ s: String, unmasked: Bool) -> String { unmasked ? s : PhoneMask.maskNumbers(in: Array(s.utf8)) }

    /// One line for a list: id, time, status, code and reason.
    static func line(_ e: RejectionEntry, unmasked: Bool) -> String {
        var out = "\(e.id)  \(time(e.at))  \(e.status.rawValue)  \(e.code)  \(text(e.reason, unmasked: unmasked))"
        if let a = e.action { out += "  (\(a.kind.rawValue) by \(a.actor) \(time(a.at)))" }
        return out
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List rejections, newest first: id, time, status, code, reason.")

        @OptionGroup var database: Database

        @Option(help: "Which: open, resubmitted, dropped or all.")
        var status: String = "open"

        @Option(help: "At most this many (1-10000).")
        var limit: Int = 100

        @Flag(help: "Show phone numbers as they are.")
        var unmasked = false

        func run() async throws {
            let filter: RejectionEntry.Status?
            if status == "all" {
                filter = nil
            } else {
                guard let s = RejectionEntry.Status(rawValue: status) else {
                    throw ValidationError("--status must be open, resubmitted, dropped or all, got '\(status)'")
                }
                filter = s
            }
            guard (1...10_000).contains(limit) else { throw ValidationError("--limit must be 1-10000, got \(limit)") }
            let entries = try await database.with { try await $0.rejections(status: filter, limit: limit) }
            for e in entries { print(Rejected.line(e, unmasked: unmasked)) }
            if entries.isEmpty { print("no \(filter.map { "\($0.rawValue) " } ?? "")rejections") }
        }
    }

    struct ShowOne: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "show",
            abstract: "Print one rejection: why it was refused, what was done with it, and its body.")

        @Argument(help: "The rejection's id (from `pagoda rejected list`).")
        var id: Int64

        @OptionGroup var database: Database

        @Flag(help: "Show phone numbers as they are (bodies hold callers' numbers).")
        var unmasked = false

        @Flag(help: "Print only the body, byte for byte (never masked): to fix it and resubmit it with --body.")
        var raw = false

        func run() async throws {
            guard let e = try await database.with({ try await $0.rejection(id: id) }) else {
                printError("pagoda: no rejection \(id) in \(database.label)\n")
                throw ExitCode.failure
            }
            if raw {
                FileHandle.standardOutput.write(Data(e.body))
                return
            }
            print(
                "rejection \(e.id)  \(e.status.rawValue)  rejected \(Rejected.time(e.at))  "
                    + "message id \(e.amqpMessageID ?? "-")")
            if e.issues.isEmpty {
                print("  \(e.code): \(Rejected.text(e.reason, unmasked: unmasked))")
            } else {
                for i in e.issues { print("  \(i.code.rawValue)  \(Rejected.text(i.message, unmasked: unmasked))") }
            }
            if let a = e.action {
                var line = "\(a.kind.rawValue) by \(a.actor) at \(Rejected.time(a.at))"
                if let m = a.messageID { line += " as message \(m)" }
                if let r = a.reason { line += ": \(Rejected.text(r, unmasked: unmasked))" }
                print(line)
                if let b = a.body, b != e.body {
                    print("resubmitted body (\(b.count) bytes):")
                    print(unmasked ? String(decoding: b, as: UTF8.self) : PhoneMask.maskNumbers(in: b))
                }
            }
            print("body (\(e.body.count) bytes\(unmasked ? "" : ", phone numbers masked")):")
            print(unmasked ? String(decoding: e.body, as: UTF8.self) : PhoneMask.maskNumbers(in: e.body))
        }
    }

    struct Resubmit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Publish a rejection's body (fixed with --body, else as stored) to intake with confirms.",
            discussion: """
                The body goes to the intake exchange and through validation again: it is dispatched, or rejected anew \
                (a new rejection). The action is recorded only once the broker confirmed the publish; exit 1 otherwise.
                """)

        @Argument(help: "The rejection's id.")
        var id: Int64

        @Option(help: "The fixed body: a file, or - for standard input. Default: the stored body unchanged.")
        var body: String?

        @Option(help: "Why, recorded with the action (optional).")
        var reason: String?

        @OptionGroup var database: Database
        @OptionGroup var who: Operator
        @OptionGroup var broker: BrokerOptions

        @Option(help: "Give up (exit 1, nothing published) when the broker cannot be reached within this many seconds.")
        var connectTimeout: Double = 30

        func run() async throws {
            bootstrapLogging(level: .warning)
            let name = try who.name()
            var fixed: [UInt8]?
            if let body {
                if body == "-" {
                    fixed = [UInt8](FileHandle.standardInput.readDataToEndOfFile())
                } else {
                    guard let d = FileManager.default.contents(atPath: body) else {
                        throw ValidationError("cannot read \(body)")
                    }
                    fixed = [UInt8](d)
                }
            }
            let names = Names(prefix: broker.prefix)
            try await database.with { store in
                try await resubmit(RejectionDesk(store: store, names: names), fixed: fixed, by: name)
            }
        }

        func resubmit(_ desk: RejectionDesk, fixed: [UInt8]?, by name: String) async throws {
            // Refuse before connecting when there is nothing to do.
            guard let entry = try await desk.store.rejection(id: id) else {
                printError("pagoda rejected resubmit: no rejection \(id) in \(database.label)\n")
                throw ExitCode.failure
            }
            if entry.action != nil {
                printError("pagoda rejected resubmit: \(Rejected.line(entry, unmasked: false))\n")
                throw ExitCode.failure
            }
            let configuration = try broker.configuration(name: "pagoda-rejected")
            let topology = Topology(exchanges: [.init(name: desk.names.intakeExchange, type: "fanout")])
            let publisher = AMQPPublisher(configuration: configuration, topology: topology, window: 1)
            do {
                try await publisher.waitUntilConnected(timeout: .milliseconds(Int(connectTimeout * 1000)))
            } catch {
                await publisher.close(timeout: .zero)
                printError(
                    "pagoda rejected resubmit: cannot connect to \(configuration.endpointDescription) within "
                        + "\(connectTimeout) s; nothing was published\n")
                throw ExitCode.failure
            }
            do {
                let done = try await desk.resubmit(id: id, body: fixed, by: name, reason: reason) {
                    try await publisher.publish($0)
                }
                await publisher.close()
                print("rejection \(id) resubmitted by \(name) as message \(done.action?.messageID ?? "-")")
            } catch {
                await publisher.close()
                printError("pagoda rejected resubmit: \(error)\n")
                throw ExitCode.failure
            }
        }
    }

    struct Drop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Give a rejection up, for a reason; it stays in the record as dropped.")

        @Argument(help: "The rejection's id.")
        var id: Int64

        @Option(help: "Why it is dropped (required).")
        var reason: String

        @OptionGroup var database: Database
        @OptionGroup var who: Operator

        func run() async throws {
            let name = try who.name()
            guard !reason.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                throw ValidationError("--reason must not be empty")
            }
            do {
                _ = try await database.with {
                    try await RejectionDesk(store: $0).drop(id: id, by: name, reason: reason)
                }
                print("rejection \(id) dropped by \(name): \(reason)")
            } catch let error as RejectionDesk.Failure {
                printError("pagoda rejected drop: \(error)\n")
                throw ExitCode.failure
            }
        }
    }
}
