import Foundation
import Logging
import Metrics
import MetricsTestKit
import PagodaJSON
import PagodaStore
import Synchronization
import Testing

@testable import PagodaService

/// The pieces of the store's health and retention that need no broker.
@Suite struct StoreHealthTests {
    @Test(arguments: [("7d", 7 * 86_400), ("36h", 36 * 3_600), ("90m", 5_400), ("30s", 30), ("1s", 1)])
    func retentionPeriodsParse(_ text: String, _ seconds: Int64) {
        #expect(OutboxRetentionPeriod(parsing: text)?.duration == .seconds(seconds))
    }

    @Test(arguments: ["", "7", "d", "0d", "-1d", "7w", "7 d", "1.5h", "99999999999999d"])
    func badRetentionPeriodsDoNot(_ text: String) {
        #expect(OutboxRetentionPeriod(parsing: text) == nil)
    }

    @Test func retentionNoneKeepsForGoodAndPeriodsPrintAsWritten() {
        #expect(OutboxRetentionPeriod(parsing: "none") == OutboxRetentionPeriod.none)
        #expect(OutboxRetentionPeriod.none.duration == nil)
        #expect(OutboxRetentionPeriod.default.description == "7d")
        #expect(OutboxRetentionPeriod(parsing: "90m")?.description == "90m")
        #expect(OutboxRetentionPeriod(parsing: "61s")?.description == "61s")
    }

    @Test func backoffDoublesToFiveSeconds() {
        var b = Backoff()
        let pauses = (0..<8).map { _ in b.next() }
        let ms = [100, 200, 400, 800, 1_600, 3_200, 5_000, 5_000]
        #expect(pauses == ms.map { Duration.milliseconds($0) })
        b.reset()
        #expect(b.next() == .milliseconds(100))
    }

    /// The store counts as unable to write until every part that failed has written again.
    @Test func theStoreIsWritableAgainOnlyWhenEveryPartWrote() throws {
        let testMetrics = TestMetrics()
        let metrics = ServiceMetrics(factory: testMetrics)
        let health = StoreHealth(logger: Logger(label: "test"), failedWrites: metrics.storeWriteFailures)
        #expect(health.writable && health.problem == nil)
        health.failed("intake", StoreError(.io, "disk full"))
        health.failed("relay", StoreError(.io, "disk full"))
        #expect(!health.writable && health.problem?.code == .io)
        health.succeeded("intake")
        #expect(!health.writable)
        health.succeeded("relay")
        #expect(health.writable)
        #expect(try testMetrics.expectCounter("pagoda_store_write_failures_total").totalValue == 2)
    }

    /// A write failing for the store's reasons is tried again until it succeeds; a failure of the data is
    /// thrown at once; at shutdown the store's failure is thrown too.
    @Test func retryingWaitsForTheStoreOnly() async throws {
        let testMetrics = TestMetrics()
        let health = StoreHealth(
            logger: Logger(label: "test"), failedWrites: ServiceMetrics(factory: testMetrics).storeWriteFailures)
        let tries = Atomic<Int>(0)
        let value = try await health.retrying("intake") { () async throws -> Int in
            let n = tries.add(1, ordering: .relaxed).newValue
            if n < 3 { throw StoreError(.io, "SQLite error 13: database or disk is full") }
            return n
        }
        #expect(value == 3 && health.writable)
        #expect(try testMetrics.expectCounter("pagoda_store_write_failures_total").totalValue == 2)

        await #expect(throws: StoreError(.constraint, "bad")) {
            try await health.retrying("intake") { () async throws -> Int in throw StoreError(.constraint, "bad") }
        }
        let stop = ShutdownFlag()
        stop.request()
        await #expect(throws: StoreError(.readOnly, "ro")) {
            try await health.retrying("intake", stop: stop) { () async throws -> Int in
                throw StoreError(.readOnly, "ro")
            }
        }
        #expect(!health.writable)
    }
}
