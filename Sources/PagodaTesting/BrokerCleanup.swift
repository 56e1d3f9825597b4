import Foundation
import Logging
import PagodaService
import PagodaTransport

extension PrivateBroker {
    /// Deletes what a test declared under `names`: every queue whose name starts with the prefix and a dot
    /// (the service's, and the test's own such as `PREFIX.test.all`; listed by rabbitmqctl, so a unit
    /// added by a rules reload goes too), with its messages, and the prefix's exchanges. Returns how many
    /// queues it deleted. A broker that is down, or refuses, throws: the caller reports it (the queues
    /// then stay until the broker's directory is removed).
    @discardableResult
    public func deleteDeclared(under names: Names) async throws -> Int {
        let listed = try await ctl("list_queues", "name", "--quiet", "--no-table-headers")
        let mine = listed.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { $0.hasPrefix(names.prefix + ".") }
        let exchanges = [names.intakeExchange, names.dispatchExchange, names.eventsExchange, names.commandsExchange]
        let doomed = Topology(
            exchanges: exchanges.map { Topology.Exchange(name: $0, type: "topic") },
            queues: mine.map { Topology.Queue(name: $0) })
        let config = try configuration
        // Deleting is a blocking rabbitmq-c exchange on a connection of its own: off the concurrency pool.
        try await BlockingQueue(label: "pagoda.test-cleanup").run {
            try doomed.delete(configuration: config, logger: Logger(label: "pagoda.test-cleanup"))
        }
        return mine.count
    }
}
