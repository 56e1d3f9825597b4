// Console benchmark helper (ops/bench/console.sh):
//
//   pagoda-bench console-intake --amqp-url URL [--prefix P] [--rate N] [--seconds S] [--log FILE]
//     publishes tickets to the intake exchange at a fixed rate (500 a second by default) for S seconds,
//     with confirms; each ticket's id is `CB-<n>-<ms>`, the wall-clock millisecond it was published at,
//     so the measuring client can tell how long after its publication the board's live update came.
import Foundation
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
