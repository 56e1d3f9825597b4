import Foundation
import PagodaJSON

/// A position in a rule file: 1-based line and column.
public struct RulePosition: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let file: String
    public let line: Int
    public let column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    public static func < (a: RulePosition, b: RulePosition) -> Bool {
        (a.file, a.line, a.column) < (b.file, b.line, b.column)
    }

    public var description: String { "\(file):\(line):\(column)" }
}

/// One problem found in a rule set, with a stable code documented in docs/rules.md.
///
/// Rendered the way compilers print, so editors and CI annotate it:
/// `rules/routes.yaml:12:7: error[R002]: unknown key 'untis' (did you mean 'units'?)`.
public struct Diagnostic: Hashable, Sendable, CustomStringConvertible {
    public enum Severity: String, Sendable, Hashable { case error, warning }

    public let location: RulePosition
    public let severity: Severity
    public let code: DiagnosticCode
    public let message: String

    public init(_ severity: Severity, _ code: DiagnosticCode, _ message: String, at location: RulePosition) {
        self.severity = severity
        self.code = code
        self.message = message
        self.location = location
    }

    public var description: String { "\(location): \(severity.rawValue)[\(code.rawValue)]: \(message)" }
}

/// Collects diagnostics; callers sort and cap them when reporting.
public struct DiagnosticBag: Sendable {
    public private(set) var items: [Diagnostic] = []

    public init() {}

    public var hasErrors: Bool { items.contains { $0.severity == .error } }
    public var errorCount: Int { items.count { $0.severity == .error } }
    public var warningCount: Int { items.count { $0.severity == .warning } }

    public mutating func error(_ code: DiagnosticCode, _ message: String, at location: RulePosition) {
        items.append(Diagnostic(.error, code, message, at: location))
    }

    public mutating func warning(_ code: DiagnosticCode, _ message: String, at location: RulePosition) {
        items.append(Diagnostic(.warning, code, message, at: location))
    }

    public mutating func append(contentsOf other: DiagnosticBag) { items.append(contentsOf: other.items) }

    /// The diagnostics in file/line/column order, errors before warnings at the same place.
    public func sorted() -> [Diagnostic] {
        items.enumerated().sorted { a, b in
            if a.element.location != b.element.location { return a.element.location < b.element.location }
            if a.element.severity != b.element.severity { return a.element.severity == .error }
            return a.offset < b.offset
        }.map(\.element)
    }
}

/// The stable diagnostic codes. Each is documented in docs/rules.md with how to fix it.
public enum DiagnosticCode: String, Sendable, Hashable, CaseIterable {
    // Files and syntax
    case yamlSyntax = "R001"
    case unknownKey = "R002"
    case wrongType = "R003"
    case duplicateSection = "R004"
    case missingKey = "R005"
    case duplicateKey = "R006"
    case emptyRuleSet = "R008"
    // Values
    case invalidValue = "R010"
    case invalidDuration = "R011"
    case invalidPattern = "R012"
    case invalidId = "R013"
    case duplicateId = "R014"
    case invalidDate = "R015"
    case deadAlias = "R016"
    case regexLikePhrase = "R017"
    // References
    case unknownRegion = "R020"
    case unknownUnit = "R021"
    case unknownProfile = "R022"
    case unknownCategory = "R023"
    case unknownPolicy = "R024"
    // The pagoda
    case levelMismatch = "R030"
    case noParent = "R031"
    case parentCycle = "R032"
    case parentNotAbove = "R033"
    case noRelativeUnit = "R034"
    // Routes
    case shadowedRoute = "R040"
    case uncoveredCombination = "R041"
    case conflictingDestination = "R042"
    case emptyCondition = "R043"
    // SLA and escalation
    case missingResolveClock = "R050"
    case warnThreshold = "R051"
    case slaShorthand = "R052"
    // Calendar
    case calendarCoverage = "R060"
    case calendarOverlap = "R061"
    case unknownTimeZone = "R062"
    case seasonGap = "R063"
    // Tests
    case testCase = "R070"
    // Limits on one file (RuleLimits)
    case fileTooLarge = "R080"
    case tooManyAliases = "R081"
    case aliasExpansion = "R082"
    // Limits on the broker
    case tooManyQueues = "R083"
}
