// Interim declarations matching the calendar and contract APIs; replaced at integration.
import Foundation
public enum Channel: String, Sendable, CaseIterable { case hotline, web, wechat, app, media, mailbox, messageBoard = "message_board" }
public enum TicketKind: String, Sendable, CaseIterable { case consultation, help, complaint, report, suggestion }
public enum Urgency: String, Sendable, CaseIterable, Comparable { case normal, urgent, emergency
  public static func < (a: Urgency, b: Urgency) -> Bool { false } }
public struct Enterprise: Hashable, Sendable { public var name: String?; public var creditCode: String? }
public struct Caller: Hashable, Sendable { public var name: String?; public var phone: String? }
public struct RegionRef: Hashable, Sendable { public var district: String?; public var town: String?; public var village: String?; public var code: String? }
public indirect enum JSONValue: Hashable, Sendable { case null, bool(Bool), number(String), string(String), array([JSONValue]), object(JSONObject) }
public struct JSONObject: Hashable, Sendable { public subscript(key: String) -> JSONValue? { nil }; public var keys: [String] { [] }
  public init(_ pairs: [(String, JSONValue)]) {}; public mutating func set(_ key: String, _ value: JSONValue) {} }
public struct JSONLimits: Sendable { public var maxBytes = 262_144; public var maxDepth = 32; public init() {} }
public struct JSONParseError: Error, Hashable, Sendable { public let code: String; public let message: String; public let offset: Int }
public enum JSON { public static func parse(_ bytes: [UInt8], limits: JSONLimits = .init()) throws(JSONParseError) -> JSONValue { .null }
  public static func serialize(_ value: JSONValue) -> [UInt8] { [] } }
public struct Ticket: Hashable, Sendable {
  public var id: String; public var receivedAt: Date; public var receivedAtOffsetSeconds: Int
  public var channel: Channel; public var kind: TicketKind; public var text: String
  public var category: String?; public var urgency: Urgency?; public var enterprise: Enterprise?; public var caller: Caller?
  public var region: RegionRef?; public var address: String?; public var title: String?; public var attachments: [String]
  public var extra: JSONObject; public var json: JSONObject }
public struct ValidationIssue: Hashable, Sendable, CustomStringConvertible { public let path: String; public let code: String; public let message: String; public var description: String { "" } }
public struct TicketValidationError: Error, Hashable, Sendable { public let issues: [ValidationIssue] }
public enum TicketContract {
  public static func decode(_ bytes: [UInt8], limits: JSONLimits = .init(), isKnownCategory: (String) -> Bool = { _ in true }) -> Result<Ticket, TicketValidationError> { fatalError() }
  public static func validate(_ object: JSONValue, isKnownCategory: (String) -> Bool = { _ in true }) -> Result<Ticket, TicketValidationError> { fatalError() } }
public enum RFC3339 { public static func parse(_ s: String) -> (date: Date, offsetSeconds: Int)? { nil }
  public static func format(_ date: Date, offsetSeconds: Int) -> String { "" } }
