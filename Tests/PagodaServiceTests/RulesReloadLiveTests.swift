import Foundation
import PagodaJSON
import PagodaRules
import PagodaService
import PagodaTesting
import PagodaTransport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `pagoda serve` reloading its rule directory on SIGHUP, on a real broker.
extension ServiceTests {
    /// A copy of the Foshan rules in a directory of the test's own, to be edited while the service runs.
    static func editableRules() throws -> URL {
        let source = repositoryRoot.appendingPathComponent("rules")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "pagoda-reload-rules-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for name in try FileManager.default.contentsOfDirectory(atPath: source.path) where name.hasSuffix(".yaml") {
            try FileManager.default.copyItem(
                at: source.appendingPathComponent(name), to: dir.appendingPathComponent(name))
        }
        return dir
    }

    /// Edits one rule file in place: `replace` must occur in it.
    static func edit(_ dir: URL, _ file: String, replacing old: String, with new: String) throws {
        let url = dir.appendingPathComponent(file)
        let text = try String(contentsOf: url, encoding: .utf8)
        try #require(text.contains(old), "\(file) has no '\(old)'")
        try text.replacingOccurrences(of: old, with: new).write(to: url, atomically: true, encoding: .utf8)
    }

    /// A street-lamp complaint: the Foshan rules send it to the district's urban management bureau.
    static func lampTicket(_ n: Int) -> (String, [UInt8]) { ticket(n, prefix: "LAMP") }

    @Test func sighupPutsNewRulesInForceAndKeepsThemWhenTheNextAreBroken() async throws {
        let dir = try Self.editableRules()
        defer { try? FileManager.default.removeItem(at: dir) }
        let w = try await World(rules: dir.path)

        let first = Self.lampTicket(0)
        try await w.publish(first.1, id: first.0)
        #expect(await eventually { w.dispatched()[first.0] != nil }, "\(w.serve.log.suffix(2000))")
        #expect(w.dispatched()[first.0]?.routingKey == "unit.nanhai.urban")

        // A new unit, and a route that gives it the street lamps.
        try Self.edit(
            dir, "units.yaml", replacing: "units:\n",
            with: "units:\n  - id: city.lighting\n    name: 佛山市路灯管理所\n    level: city\n    function: lighting\n")
        try Self.edit(
            dir, "routes.yaml", replacing: "  - id: city-management\n",
            with: """
                  - id: lamps-to-lighting
                    description: 路灯故障由市路灯管理所处理
                    when:
                      category: [city_management]
                      text: {any: [路灯]}
                    to: {unit: city.lighting}

                  - id: city-management

                """)
        w.serve.signal(SIGHUP)
        #expect(await eventually { w.serve.log.contains("rules reloaded") }, "\(w.serve.log.suffix(2000))")
        #expect(w.serve.log.contains("units.added=city.lighting"))

        let second = Self.lampTicket(1)
        try await w.publish(second.1, id: second.0)
        #expect(await eventually { w.dispatched()[second.0] != nil }, "\(w.serve.log.suffix(2000))")
        #expect(w.dispatched()[second.0]?.routingKey == "unit.city.lighting")
        guard case .object(let decision)? = w.dispatched()[second.0]?.body["decision"] else {
            Issue.record("no decision for \(second.0)")
            return
        }
        #expect(decision["rules_hash"] != .string(Self.rules.hash))
        // The service declared the new unit's queue before routing to it: read it without declaring it here.
        let lighting = QueueCollector(
            configuration: try Self.broker.configuration, queue: w.names.queue("unit.city.lighting"), topology: .empty)
        #expect(
            await eventually {
                lighting.deliveries.contains { $0.messageId?.hasPrefix("\(second.0)/dispatch/") == true }
            })
        await lighting.close()

        // Broken rules: the error is logged with its place, and the rules in force stay.
        try Self.edit(dir, "routes.yaml", replacing: "    to: {unit: city.lighting}", with: "    to: city.lighting")
        let line = try String(contentsOf: dir.appendingPathComponent("routes.yaml"), encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0 == "    to: city.lighting" }.map {
                $0 + 1
            }
        w.serve.signal(SIGHUP)
        #expect(await eventually { w.serve.log.contains("rules reload failed") }, "\(w.serve.log.suffix(2000))")
        #expect(w.serve.log.contains("routes.yaml:\(try #require(line)):9: error[R010]"), "\(w.serve.log.suffix(2000))")

        let third = Self.lampTicket(2)
        try await w.publish(third.1, id: third.0)
        #expect(await eventually { w.dispatched()[third.0] != nil }, "\(w.serve.log.suffix(2000))")
        #expect(w.dispatched()[third.0]?.routingKey == "unit.city.lighting")

        // The same files again, mended: nothing to put in force.
        try Self.edit(dir, "routes.yaml", replacing: "    to: city.lighting", with: "    to: {unit: city.lighting}")
        w.serve.signal(SIGHUP)
        #expect(await eventually { w.serve.log.contains("rules unchanged") }, "\(w.serve.log.suffix(2000))")

        w.serve.signal(SIGTERM)
        #expect(await w.serve.wait() == 0)
        #expect(w.serve.log.contains("count.rules_reloaded=1"))
        await w.stop()
    }
}
