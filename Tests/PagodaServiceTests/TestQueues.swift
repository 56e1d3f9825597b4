import Foundation
import PagodaService
import PagodaTesting
import Testing

/// The queue prefixes the running test took on the private brokers: when the test ends, passed or failed,
/// the `.deletesItsQueues` trait (on `ServiceTests`, so on every live test nested in it) deletes each
/// prefix's queues and exchanges. Each serve start declares some 140 quorum queues for the example rules,
/// each a Raft group with processes of its own: left behind by forty tests they slow the broker until
/// publishers and collectors time out.
final class TestPrefixes: Sendable {
    @TaskLocal static var current: TestPrefixes?
    private let taken = Locked<[(broker: PrivateBroker, names: Names)]>([])

    /// A fresh prefix (`letter` and eight hex digits) whose queues are deleted from `broker` when the
    /// current test ends. Outside such a test it is an issue: the queues would stay on the broker.
    static func take(_ letter: String, on broker: PrivateBroker) -> Names {
        let names = Names(prefix: "\(letter)\(UUID().uuidString.prefix(8).lowercased())")
        if let current {
            current.taken.withLock { $0.append((broker, names)) }
        } else {
            Issue.record("prefix \(names.prefix) taken outside a test with the .deletesItsQueues trait")
        }
        return names
    }

    /// Deletes every prefix's queues and exchanges; a failure (a broker a test left stopped) is printed,
    /// not thrown, so it never hides the test's own outcome. `PAGODA_TEST_KEEP_QUEUES=1` keeps them, to
    /// look at a failed test's queues with rabbitmqctl.
    func deleteAll() async {
        if ProcessInfo.processInfo.environment["PAGODA_TEST_KEEP_QUEUES"] == "1" { return }
        for (broker, names) in taken.value {
            do {
                try await broker.deleteDeclared(under: names)
            } catch {
                print("could not delete the queues of \(names.prefix) on port \(broker.port): \(error)")
            }
        }
    }
}

/// Deletes the queues and exchanges of the prefixes each test took (`TestPrefixes.take`) when it ends.
struct DeletesItsQueues: SuiteTrait, TestTrait, TestScoping {
    var isRecursive: Bool { true }

    /// Each test case gets a scope of its own; the suites themselves none.
    func scopeProvider(for test: Test, testCase: Test.Case?) -> Self? {
        test.isSuite || testCase == nil ? nil : self
    }

    func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        let prefixes = TestPrefixes()
        do {
            try await TestPrefixes.$current.withValue(prefixes) { try await function() }
        } catch {
            await prefixes.deleteAll()
            throw error
        }
        await prefixes.deleteAll()
    }
}

extension SuiteTrait where Self == DeletesItsQueues {
    /// Deletes, when each test ends, the queues and exchanges of the prefixes it took.
    static var deletesItsQueues: Self { Self() }
}
