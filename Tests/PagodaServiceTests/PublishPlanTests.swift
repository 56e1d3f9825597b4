import PagodaJSON
import PagodaStore
import PagodaTransport
import Testing

@testable import PagodaService

/// How the relay splits an outbox row into publishes that each have one route.
@Suite struct PublishPlanTests {
    let plan = PublishPlan(names: Names())

    @Test func aDispatchGoesToItsQueueAloneAndOnceToTheEvents() {
        let row = OutboxMessage(
            exchange: "pagoda.dispatch", routingKey: "unit.nanhai.shishan", messageID: "T-1/dispatch/3",
            contentType: "application/json", headers: ["x-pagoda-dispatch-seq": "3"], body: [1, 2], mandatory: true)
        let parts = plan.parts(row)
        #expect(parts.map(\.message.exchange) == ["pagoda.dispatch", "pagoda.events"])
        #expect(parts.map(\.message.routingKey) == ["unit.nanhai.shishan", "unit.nanhai.shishan"])
        #expect(
            parts.allSatisfy {
                $0.message.mandatory && $0.message.messageId == "T-1/dispatch/3" && $0.message.body == [1, 2]
            })
        #expect(
            parts.allSatisfy {
                $0.message.properties.headers["BCC"] == nil && $0.message.properties.headers["CC"] == nil
            })
        #expect(parts.map(\.queue) == ["pagoda.unit.nanhai.shishan", "pagoda.events"])
        #expect(parts[0].redeclare?.queues.map(\.name) == ["pagoda.unit.nanhai.shishan"])
        #expect(
            parts[0].redeclare?.bindings == [
                .init(
                    queue: "pagoda.unit.nanhai.shishan", exchange: "pagoda.dispatch", routingKey: "unit.nanhai.shishan")
            ])
        #expect(
            parts[1].redeclare?.bindings == [.init(queue: "pagoda.events", exchange: "pagoda.events", routingKey: "#")])
    }

    @Test func anEventGoesToEachOfItsQueuesByTypeAndOnceToTheEvents() {
        let row = OutboxMessage(
            exchange: "pagoda.dispatch", routingKey: "ticket.escalated", messageID: "T-1#4.0",
            contentType: "application/json", headers: ["x-pagoda-event-id": "T-1#4.0"], body: [3], mandatory: true,
            extraRoutingKeys: ["unit.nanhai", "unit.nanhai.shishan", "unit.nanhai"])
        let parts = plan.parts(row)
        #expect(parts.map(\.message.exchange) == ["pagoda.dispatch", "pagoda.dispatch", "pagoda.events"])
        #expect(parts.allSatisfy { $0.message.routingKey == "ticket.escalated" })
        // CC, which a returned message keeps, tells the two publishes to the dispatch exchange apart.
        #expect(parts[0].message.properties.headers["CC"] == .array([.string("unit.nanhai")]))
        #expect(parts[1].message.properties.headers["CC"] == .array([.string("unit.nanhai.shishan")]))
        #expect(parts[0].message.properties.headers["BCC"] == nil)
        #expect(
            parts[2].message.properties.headers["BCC"]
                == .array([.string("unit.nanhai"), .string("unit.nanhai.shishan")]))
        #expect(parts.map(\.queue) == ["pagoda.unit.nanhai", "pagoda.unit.nanhai.shishan", "pagoda.events"])
    }

    @Test func anEventForNoQueueIsTheEventsCopyAlone() {
        let row = OutboxMessage(
            exchange: "pagoda.dispatch", routingKey: "ticket.signed", messageID: "T-1#2.0",
            contentType: "application/json", headers: ["x-pagoda-event-id": "T-1#2.0"], body: [], mandatory: true)
        let parts = plan.parts(row)
        #expect(parts.map(\.message.exchange) == ["pagoda.events"])
        #expect(parts[0].message.routingKey == "ticket.signed")
    }

    @Test func rejectionsCanRedeclareTheirQueueAndRepliesAreAsTheyAre() {
        let rejected = OutboxMessage(
            exchange: "", routingKey: "pagoda.rejected", messageID: "rejected/x",
            contentType: "application/octet-stream",
            headers: [:], body: [9], mandatory: true)
        let r = plan.parts(rejected)
        #expect(
            r.count == 1 && r[0].queue == "pagoda.rejected" && r[0].redeclare?.queues.map(\.name) == ["pagoda.rejected"]
        )
        let reply = OutboxMessage(
            exchange: "", routingKey: "amq.gen-1", messageID: "T#1.0>reply", contentType: "application/json",
            headers: [:], body: [], mandatory: false)
        let p = plan.parts(reply)
        #expect(p.count == 1 && p[0].queue == nil && p[0].redeclare == nil && !p[0].message.mandatory)
    }
}
