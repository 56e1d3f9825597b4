// Interim declarations matching the store API; replaced when PagodaStore lands.
import Foundation
public struct StoreConfiguration: Sendable { public var path: String; public var synchronous: Synchronous = .full
  public enum Synchronous: Sendable { case full, normal }
  public init(path: String, synchronous: Synchronous = .full) { self.path = path; self.synchronous = synchronous } }
public final class DispatchStore: Sendable {
  public init(_ configuration: StoreConfiguration) throws {}
  public func recordDispatches(_ items: [IntakeRecord]) throws -> [IntakeOutcome] { [] }
  public func pendingOutbox(limit: Int, excluding inFlight: Set<Int64>) throws -> [OutboxMessage] { [] }
  public func markSent(_ ids: [Int64], at: Date) throws {}
  public func outboxBacklog() throws -> Int { 0 }
}
public enum IntakeRecord: Sendable { case dispatch(TicketDispatch), rejection(Rejection) }
public struct DecisionRow: Sendable {
  public var destinationType: String; public var unitID: String?; public var level: String?; public var queue: String
  public var ruleID: String; public var ruleFile: String; public var ruleLine: Int; public var rulesHash: String
  public var slaProfile: String?; public var category: String?; public var urgency: String; public var decisionJSON: [UInt8]; public var deadlines: [String: Date] }
public struct TicketDispatch: Sendable {
  public var ticketID: String; public var receivedAt: Date; public var ticketJSON: [UInt8]; public var decision: DecisionRow
  public var messages: @Sendable (Int64) -> [StoredMessage]; public var amqpMessageID: String?; public var at: Date }
public struct StoredMessage: Sendable, Hashable { public var exchange: String; public var routingKey: String; public var messageID: String; public var contentType: String; public var headers: [String: String]; public var body: [UInt8]; public var mandatory: Bool }
public struct Rejection: Sendable { public var amqpMessageID: String?; public var body: [UInt8]; public var code: String; public var reason: String; public var at: Date; public var message: StoredMessage }
public enum IntakeOutcome: Sendable, Hashable { case recorded(dispatchSequence: Int64), duplicate(dispatchSequence: Int64), rejected(id: Int64), duplicateRejection }
public struct OutboxMessage: Sendable, Hashable { public var id: Int64; public var message: StoredMessage; public var createdAt: Date; public var attempts: Int }
