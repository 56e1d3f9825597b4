import Foundation
import PagodaJSON

extension Diagnostic {
    /// The diagnostic as a JSON object for `pagoda check --format json`.
    public var json: JSONValue {
        .object(
            JSONObject([
                ("file", .string(location.file)), ("line", .number(String(location.line))),
                ("column", .number(String(location.column))),
                ("severity", .string(severity.rawValue)), ("code", .string(code.rawValue)),
                ("message", .string(message)),
            ]))
    }
}

/// Renders diagnostics for people and tools.
public enum DiagnosticRenderer {
    /// One line per diagnostic, at most `limit`, then a summary line.
    public static func text(_ diagnostics: [Diagnostic], limit: Int = 200) -> String {
        var lines = diagnostics.prefix(limit).map(\.description)
        if diagnostics.count > limit { lines.append("... and \(diagnostics.count - limit) more") }
        let errors = diagnostics.count { $0.severity == .error }
        let warnings = diagnostics.count - errors
        lines.append("\(errors) error\(errors == 1 ? "" : "s"), \(warnings) warning\(warnings == 1 ? "" : "s")")
        return lines.joined(separator: "\n") + "\n"
    }

    public static func json(_ diagnostics: [Diagnostic]) -> String {
        String(decoding: JSON.serialize(.array(diagnostics.map(\.json))), as: UTF8.self) + "\n"
    }
}
