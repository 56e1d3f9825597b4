// Interim declarations matching the calendar and contract APIs; replaced at integration.
import Foundation
public enum Weekday: Int, Sendable, CaseIterable, Hashable { case monday = 1, tuesday, wednesday, thursday, friday, saturday, sunday
  public init?(abbreviation: String) { return nil } }
public struct CivilDate: Hashable, Comparable, Sendable, CustomStringConvertible {
  public let year: Int, month: Int, day: Int
  public init?(year: Int, month: Int, day: Int) { self.year = year; self.month = month; self.day = day }
  public init?(iso: String) { return nil }
  public init(dayNumber: Int) { year = 0; month = 0; day = 0 }
  public var dayNumber: Int { 0 }
  public var weekday: Weekday { .monday }
  public static func < (a: CivilDate, b: CivilDate) -> Bool { false }
  public var description: String { "" } }
public struct WorkingInterval: Hashable, Sendable { public let startMinute: Int; public let endMinute: Int
  public init?(parsing: String) { return nil } }
public struct Holiday: Hashable, Sendable { public let from: CivilDate; public let to: CivilDate; public let name: String
  public init(from: CivilDate, to: CivilDate, name: String) { self.from = from; self.to = to; self.name = name } }
public struct BusinessCalendar: Sendable {
  public init(timeZone: TimeZone, workingWeekdays: Set<Weekday>, workingHours: [WorkingInterval], holidays: [Holiday], makeUpWorkdays: [CivilDate], coveredYears: ClosedRange<Int>?) { self.timeZone = timeZone }
  public let timeZone: TimeZone
  public func civilDate(of instant: Date) -> CivilDate { CivilDate(dayNumber: 0) }
  public func utcOffsetSeconds(at instant: Date) -> Int { 0 }
  public func covers(_ date: CivilDate) -> Bool { true }
  public func deadline(after duration: SLADuration, from instant: Date) -> Date { instant }
}
public enum SLADuration: Hashable, Sendable, CustomStringConvertible { case natural(seconds: Int), workingDays(Int), workingHours(minutes: Int)
  public static func parse(_ text: String) -> Result<SLADuration, SLADurationError> { .success(.natural(seconds: 1)) }
  public var description: String { "" } }
public struct SLADurationError: Error, Hashable, Sendable { public let message: String }
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
