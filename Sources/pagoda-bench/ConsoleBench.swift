// Console benchmark helpers (ops/bench/console.sh):
//
//   pagoda-bench console-seed --db FILE [--tickets N] [--inbox N] [--rules DIR]
//     writes N open tickets (1,000,000 by default) through the real intake path: tickets on every
//     category of the rules and every town of their region tree, routed by the rules, IntakeProcessor
//     (Lifecycle.dispatch, LifecycleCodec with the console's columns) and DispatchStore.recordDispatches,
//     5,000 per transaction, synchronous=normal, so the read model (counters, indexes) is written as in
//     service. Exactly `--inbox` of them (10,000 by default) go to one town unit that no other ticket
//     reaches: the benchmark's inbox; the rest spread over every other combination the rules route to a
//     unit or the triage desk. Received in the last minute, so their first timers fall due well after the
//     run. Prints the inbox unit last: `inbox unit=ID tickets=N`.
//
//   pagoda-bench console-intake --amqp-url URL [--prefix P] [--rate N] [--seconds S] [--log FILE]
//     publishes tickets to the intake exchange at a fixed rate (500 a second by default) for S seconds,
//     with confirms; each ticket's id is `CB-<n>-<ms>`, the wall-clock millisecond it was published at,
//     so the measuring client can tell how long after its publication the board's live update came.
import Foundation
import GRDB
import PagodaJSON
import PagodaRules
import PagodaService
import PagodaStore
import PagodaTransport

func consoleIntake(_ args: [String]) async throws {
    let url = argValue(args, "--amqp-url") ?? "amqp://guest:guest@127.0.0.1:5672/"
    let prefix = argValue(args, "--prefix") ?? "pagoda"
    let rate = Int(argValue(args, "--rate") ?? "") ?? 500
    let seconds = Int(argValue(args, "--seconds") ?? "") ?? 20
    var config = try AMQPConfiguration(url: url)
    config.connectionName = "pagoda-bench console-intake"
    let exchange = "\(prefix).intake"
    let publisher = AMQPPublisher(
        configuration: config, topology: Topology(exchanges: [.init(name: exchange, type: "fanout")]), window: 1024)
    let received: String = {
        let f = ISO8601DateFormatter()
        f.timeZone = TimeZone(secondsFromGMT: 8 * 3600)
        return f.string(from: Date())
    }()
    let districts = ["南海区", "顺德区", "禅城区", "三水区", "高明区"]
    let towns = ["桂城街道", "大良街道", "祖庙街道", "西南街道", "荷城街道"]
    let cats = ["city_management", "living_environment", "consumer_rights", "social_livelihood"]
    let interval = 1e9 / Double(rate)
    let start = DispatchTime.now().uptimeNanoseconds
    var n = 0
    let unconfirmed = Box(0)
    await withTaskGroup(of: Void.self) { group in
        while true {
            let due = start + UInt64(Double(n) * interval)
            let t = DispatchTime.now().uptimeNanoseconds
            if due > t { try? await Task.sleep(for: .nanoseconds(Int(due - t))) }
            if DispatchTime.now().uptimeNanoseconds - start >= UInt64(seconds) * 1_000_000_000 { break }
            let ms = Int64((Date().timeIntervalSince1970 * 1000).rounded())
            let id = "CB-\(n)-\(ms)"
            let body = Array(
                #"{"id":"\#(id)","received_at":"\#(received)","channel":"hotline","kind":"complaint","text":"小区门口的路灯坏了很久，晚上出行很不方便，希望尽快维修。","category":"\#(cats[n % 4])","region":{"district":"\#(districts[n % 5])","town":"\#(towns[n % 5])"}}"#
                    .utf8)
            group.addTask {
                if (try? await publisher.publish(
                    AMQPMessage(exchange: exchange, routingKey: "", body: body, messageId: id))) != .confirmed
                {
                    unconfirmed.with { $0 += 1 }
                }
            }
            n += 1
        }
        await group.waitForAll()
    }
    await publisher.close()
    print("console-intake: published \(n) tickets at \(rate)/s in \(seconds) s; unconfirmed \(unconfirmed.with { $0 })")
}

private let seedTexts = [
    "小区门口的路灯坏了很久，晚上出行很不方便，多次反映没人处理，希望尽快维修。",
    "楼下餐馆油烟很大，每天中午和晚上都直接排到居民楼，影响生活，请相关部门处理。",
    "路边有一处井盖松动，车辆经过声音很大，希望尽快修复。",
    "装修工人晚上十点以后还在施工，噪音扰民，请派人查看。",
    "购买的电器出现质量问题，商家拒绝退换，请求协助维权。",
    "咨询社保转移接续需要准备哪些材料，在哪里办理。",
]
private let seedKinds = ["complaint", "help", "report", "consultation", "suggestion"]

/// A ticket of the seed. `variant` (0..<6) chooses the text and kind, and whether an enterprise is named.
private func seedTicket(
    id: String, n: Int, variant: Int, district: String, town: String, category: String, receivedAt: Date
) -> [UInt8] {
    let at = RFC3339.format(receivedAt, offsetSeconds: 8 * 3600)
    let phone = "13" + String(String(100_000_000 + n % 900_000_000).suffix(9))
    let enterprise = variant == 4 ? #","enterprise":{"name":"佛山市某某电器贸易有限公司"}"# : ""
    return Array(
        #"{"id":"\#(id)","received_at":"\#(at)","channel":"hotline","kind":"\#(seedKinds[variant % 5])","text":"\#(seedTexts[variant])","category":"\#(category)","region":{"district":"\#(district)","town":"\#(town)"},"caller":{"name":"市民","phone":"\#(phone)"}\#(enterprise)}"#
            .utf8)
}

func consoleSeed(_ args: [String]) async throws {
    func say(_ s: String) { FileHandle.standardOutput.write(Data((s + "\n").utf8)) }
    guard let db = argValue(args, "--db") else {
        say("console-seed: --db is required")
        exit(2)
    }
    let count = Int(argValue(args, "--tickets") ?? "") ?? 1_000_000
    let inbox = Int(argValue(args, "--inbox") ?? "") ?? 10_000
    let compiled = RuleSetCompiler.compile(try RuleSetCompiler.readFiles(in: argValue(args, "--rules") ?? "rules"))
    guard let rules = compiled.ruleSet else {
        say("console-seed: the rules do not compile")
        exit(1)
    }
    let processor = IntakeProcessor(ruleSet: rules, names: Names(), lifecycle: true)
    let store = try DispatchStore(StoreConfiguration(path: db, synchronous: .normal))

    // Where each (town, category) goes.
    struct Combo {
        var district: String
        var town: String
        var category: String
        var variant: Int
        var unit: String?
    }
    var combos: [Combo] = []
    let now = Date()
    for town in rules.regions where town.level == .town {
        guard let parent = town.parent else { continue }
        for category in rules.categories {
            for variant in seedTexts.indices {
                var c = Combo(
                    district: rules.regions[parent].name, town: town.name, category: category.code, variant: variant)
                let record = processor.process(
                    body: seedTicket(
                        id: "probe", n: 0, variant: variant, district: c.district, town: c.town,
                        category: c.category, receivedAt: now), messageID: "probe", now: now)
                guard case .dispatch(let d) = record, d.lifecycle != nil,
                    d.decision.destinationType == .unit || d.decision.destinationType == .triage
                else { continue }
                c.unit = d.decision.unitID
                combos.append(c)
            }
        }
    }
    // The inbox: the town unit reached by the fewest combinations (ties: the smallest id).
    var byUnit: [String: [Combo]] = [:]
    for c in combos { if let u = c.unit { byUnit[u, default: []].append(c) } }
    let townUnits = Set(rules.units.filter { $0.level == .town }.map(\.id))
    guard
        let inboxUnit = byUnit.filter({ townUnits.contains($0.key) }).min(by: {
            ($0.value.count, $0.key) < ($1.value.count, $1.key)
        })?.key
    else {
        say("console-seed: no town unit is routed to")
        exit(1)
    }
    let mine = byUnit[inboxUnit]!
    let rest = combos.filter { $0.unit != inboxUnit }
    say(
        "console-seed: \(count) tickets into \(db); \(combos.count) routed combinations of town, category and text over \(byUnit.count) units; inbox \(inboxUnit) (\(min(inbox, count)) tickets)"
    )

    var sentConfig = Configuration()
    sentConfig.prepareDatabase { try $0.execute(sql: "PRAGMA synchronous = NORMAL") }
    sentConfig.busyMode = .timeout(10)
    let sent = try DatabaseQueue(path: db, configuration: sentConfig)
    let start = Date()
    var written = 0
    var batch: [IntakeRecord] = []
    batch.reserveCapacity(5_000)
    func write() throws {
        for o in try store.recordDispatches(batch) {
            guard case .recorded = o else {
                say("console-seed: unexpected outcome \(o)")
                exit(1)
            }
        }
        // Their dispatch messages went out long ago (a second connection: the store has no bulk call for it).
        try sent.write { try $0.execute(sql: "UPDATE outbox SET sent_at = created_at WHERE sent_at IS NULL") }
        written += batch.count
        batch.removeAll(keepingCapacity: true)
        if written % 100_000 < 5_000 {
            say(String(format: "  %d tickets, %.0f s", written, Date().timeIntervalSince(start)))
        }
    }
    let stride = max(1, count / max(1, inbox))
    var inInbox = 0
    for n in 0..<count {
        let c: Combo
        if inInbox < inbox, n % stride == 0 || count - n <= inbox - inInbox {
            c = mine[inInbox % mine.count]
            inInbox += 1
        } else {
            c = rest[(n &* 7919) % rest.count]
        }
        let at = Date()
        let receivedAt = Date(
            timeIntervalSince1970: (at.timeIntervalSince1970 - Double((n &* 7919) % 60)).rounded(.down))
        let id = "CS-\(n)"
        batch.append(
            processor.process(
                body: seedTicket(
                    id: id, n: n, variant: c.variant, district: c.district, town: c.town, category: c.category,
                    receivedAt: receivedAt),
                messageID: id, now: at))
        if batch.count == 5_000 { try write() }
    }
    if !batch.isEmpty { try write() }
    let seconds = Date().timeIntervalSince(start)
    let held = try await store.consoleOpenCounts(unit: inboxUnit).reduce(0) { $0 + $1.count }
    say(String(format: "console-seed: %d tickets in %.1f s (%.0f/s)", written, seconds, Double(written) / seconds))
    say("inbox unit=\(inboxUnit) tickets=\(held)")
}
