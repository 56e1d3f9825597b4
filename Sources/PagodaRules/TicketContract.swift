import Foundation
import PagodaJSON

/// Decoder and validator for the intake ticket contract v1 (docs/contract-intake.md).
public enum TicketContract {
    /// The contract version this validator implements.
    public static let version = 1

    /// Top-level fields defined by the contract, in contract (and issue-reporting) order.
    public static let fields = [
        "id", "received_at", "channel", "kind", "text", "category", "urgency",
        "enterprise", "caller", "region", "address", "title", "attachments", "source_line",
    ]

    /// Upper bound on issues reported for one ticket; further problems are not listed.
    public static let maxIssues = 100

    /// Parses `bytes` as JSON (with `limits`) and validates the result as a v1 ticket.
    ///
    /// A JSON parse failure yields exactly one issue at path "" whose code is the parse error code
    /// (too_large, invalid_utf8, too_deep, empty, syntax, duplicate_key) and whose message is the parse
    /// message (with byte offset). Otherwise behaves as `validate`. Never throws.
    public static func decode(
        _ bytes: [UInt8], limits: JSONLimits = .init(), isKnownCategory: (String) -> Bool = { _ in true }
    ) -> Result<Ticket, TicketValidationError> {
        let value: JSONValue
        do {
            value = try JSON.parse(bytes, limits: limits)
        } catch {
            return .failure(
                TicketValidationError(issues: [
                    ValidationIssue(path: "", code: ValidationCode(error.code), message: error.message)
                ])!)
        }
        return validate(value, isKnownCategory: isKnownCategory)
    }

    /// Validates a parsed JSON value as a v1 ticket, collecting every problem.
    ///
    /// Degrades rather than rejects: a problem with the document or a required field (`isBlocking`)
    /// fails with every issue found; a problem with an optional field leaves that field (or that member of
    /// enterprise, caller or region) out of the ticket, which succeeds with the issue in `Ticket.warnings`
    /// (an enterprise object that names one is kept even when its members are all left out; a region or
    /// caller with nothing left is absent; attachments keep their well-formed items, at most 50). A
    /// caller's phone is never echoed in a message, only its masked form (`PhoneMask`).
    ///
    /// The root must be an object (else one `type` issue at path ""). Explicit null on an optional field
    /// means absent; null or absence of a required field is `required`. Unknown top-level keys are kept
    /// in `Ticket.extra` in received order; unknown keys inside enterprise/caller/region are
    /// `unknown_field`. Issues are ordered by contract field order (see `fields`); inside an object the
    /// "at least one member" check comes first, then members in contract order, then unknown keys in
    /// received order; at most `maxIssues` are reported. `isKnownCategory` is only called for a
    /// category that is well-formed.
    public static func validate(
        _ object: JSONValue, isKnownCategory: (String) -> Bool = { _ in true }
    ) -> Result<Ticket, TicketValidationError> {
        guard case .object(let root) = object else {
            return .failure(
                TicketValidationError(issues: [
                    ValidationIssue(
                        path: "", code: .type, message: "(root): expected an object, got \(object.typeDescription)")
                ])!)
        }
        var idV: JSONValue?
        var receivedV: JSONValue?
        var channelV: JSONValue?
        var kindV: JSONValue?
        var textV: JSONValue?
        var categoryV: JSONValue?
        var urgencyV: JSONValue?
        var enterpriseV: JSONValue?
        var callerV: JSONValue?
        var regionV: JSONValue?
        var addressV: JSONValue?
        var titleV: JSONValue?
        var attachmentsV: JSONValue?
        var sourceLineV: JSONValue?
        var extra: [(String, JSONValue)] = []
        for (k, v) in root {
            // Dispatch on UTF-8 length first so each key costs at most three string comparisons.
            switch k.utf8.count {
            case 2 where k == "id": idV = v
            case 4 where k == "kind": kindV = v
            case 4 where k == "text": textV = v
            case 5 where k == "title": titleV = v
            case 6 where k == "caller": callerV = v
            case 6 where k == "region": regionV = v
            case 7 where k == "channel": channelV = v
            case 7 where k == "urgency": urgencyV = v
            case 7 where k == "address": addressV = v
            case 8 where k == "category": categoryV = v
            case 10 where k == "enterprise": enterpriseV = v
            case 11 where k == "received_at": receivedV = v
            case 11 where k == "attachments": attachmentsV = v
            case 11 where k == "source_line": sourceLineV = v
            default:
                extra.append((k, v))
            }
        }

        var c = ContractIssues(cap: maxIssues)

        // id
        let id = c.string(idV, "id", required: true)
        if let id {
            if !id.utf8.allSatisfy(isIDByte) {
                c.add("id", .format, "must contain only A-Z a-z 0-9 . _ : -, got \(JSON.quoted(id))")
            } else if id.utf8.isEmpty || id.utf8.count > 64 {
                c.add("id", .length, "must be 1-64 characters, got \(id.utf8.count)")
            }
        }

        // received_at
        var received: (date: Date, offsetSeconds: Int)?
        if let s = c.string(receivedV, "received_at", required: true) {
            received = RFC3339.parse(s)
            if received == nil {
                c.add(
                    "received_at", .format,
                    "expected an RFC 3339 timestamp with offset like 2026-03-02T09:53:00+08:00, got \(JSON.quoted(s))")
            }
        }

        let channel: Channel? = c.enumValue(channelV, "channel", required: true)
        let kind: TicketKind? = c.enumValue(kindV, "kind", required: true)

        // text
        let text = c.string(textV, "text", required: true)
        if let text {
            if c.length(text, "text", min: 1, max: 10_000) {
                if !text.unicodeScalars.contains(where: { !$0.properties.isWhitespace }) {
                    c.add("text", .format, "must not be only whitespace")
                }
            }
        }

        // The optional fields degrade: a malformed one is left out of the ticket (a member of enterprise,
        // caller or region alone, the rest of the object kept), and its issue becomes a warning.

        // category
        var category = c.string(categoryV, "category", required: false)
        if let given = category {
            if !isCategoryPath(given) {
                c.add(
                    "category", .format,
                    "expected lowercase segments of [a-z0-9_] joined by '.', got \(JSON.quoted(given))")
                category = nil
            } else if !isKnownCategory(given) {
                c.add("category", .unknownCategory, "unknown category \(JSON.quoted(given))")
                category = nil
            }
        }

        let urgency: Urgency? = c.enumValue(urgencyV, "urgency", required: false)

        // enterprise: kept (the ticket concerns an enterprise) whenever it names one, even by a malformed member.
        var enterprise: Enterprise?
        if let o = c.object(enterpriseV, "enterprise") {
            var nameV: JSONValue?
            var codeV: JSONValue?
            var unknown: [String] = []
            for (k, v) in o {
                switch k {
                case "name": nameV = v
                case "credit_code": codeV = v
                default: unknown.append(k)
                }
            }
            let named = !(isAbsent(nameV) && isAbsent(codeV))
            if !named {
                c.add("enterprise", .required, "needs at least one of name, credit_code")
            }
            var name = c.string(nameV, "enterprise.name", required: false)
            if let given = name, !c.length(given, "enterprise.name", min: 1, max: 200) { name = nil }
            var code = c.string(codeV, "enterprise.credit_code", required: false)
            if let given = code, !isCreditCode(given) {
                c.add(
                    "enterprise.credit_code", .format,
                    "expected 18 characters of digits and uppercase letters except I, O, Z, S, V, got "
                        + JSON.quoted(given))
                code = nil
            }
            c.unknownFields(unknown, in: "enterprise", allowed: "name, credit_code")
            if named { enterprise = Enterprise(name: name, creditCode: code) }
        }

        // caller
        var caller: Caller?
        if let o = c.object(callerV, "caller") {
            var nameV: JSONValue?
            var phoneV: JSONValue?
            var unknown: [String] = []
            for (k, v) in o {
                switch k {
                case "name": nameV = v
                case "phone": phoneV = v
                default: unknown.append(k)
                }
            }
            var name = c.string(nameV, "caller.name", required: false)
            if let given = name, !c.length(given, "caller.name", min: 0, max: 100) { name = nil }
            var phone = c.string(phoneV, "caller.phone", required: false)
            if let given = phone {
                // The number is personal data: messages show it masked, as logs do (PhoneMask).
                switch phoneDigitCount(given) {
                case nil:
                    let masked = PhoneMask.mask(given)
                    c.add(
                        "caller.phone", .format,
                        "expected digits with an optional leading '+', spaces and hyphens, got "
                            + (masked.isEmpty ? "a value without digits" : "\(JSON.quoted(masked)) (masked)"))
                    phone = nil
                case let n? where n < 3 || n > 20:
                    c.add("caller.phone", .length, "must have 3-20 digits, got \(n)")
                    phone = nil
                default:
                    break
                }
            }
            c.unknownFields(unknown, in: "caller", allowed: "name, phone")
            if name != nil || phone != nil { caller = Caller(name: name, phone: phone) }
        }

        // region: what is left of it after its malformed members are dropped; nothing left reads as absent.
        var region: RegionRef?
        if let o = c.object(regionV, "region") {
            var districtV: JSONValue?
            var townV: JSONValue?
            var villageV: JSONValue?
            var codeV: JSONValue?
            var unknown: [String] = []
            for (k, v) in o {
                switch k {
                case "district": districtV = v
                case "town": townV = v
                case "village": villageV = v
                case "code": codeV = v
                default: unknown.append(k)
                }
            }
            if isAbsent(districtV) && isAbsent(townV) && isAbsent(villageV) && isAbsent(codeV) {
                c.add("region", .required, "needs at least one of district, town, village, code")
            }
            func name(_ v: JSONValue?, _ path: String) -> String? {
                guard let s = c.string(v, path, required: false), c.length(s, path, min: 1, max: 100) else {
                    return nil
                }
                return s
            }
            let district = name(districtV, "region.district")
            let town = name(townV, "region.town")
            let village = name(villageV, "region.village")
            var code = c.string(codeV, "region.code", required: false)
            if let given = code, !(given.utf8.count >= 6 && given.utf8.count <= 12 && given.utf8.allSatisfy(isDigit)) {
                c.add("region.code", .format, "expected 6-12 digits, got \(JSON.quoted(given))")
                code = nil
            }
            c.unknownFields(unknown, in: "region", allowed: "district, town, village, code")
            if district != nil || town != nil || village != nil || code != nil {
                region = RegionRef(district: district, town: town, village: village, code: code)
            }
        }

        // address, title
        var address = c.string(addressV, "address", required: false)
        if let given = address, !c.length(given, "address", min: 0, max: 500) { address = nil }
        var title = c.string(titleV, "title", required: false)
        if let given = title, !c.length(given, "title", min: 0, max: 200) { title = nil }

        // attachments: the well-formed items, at most 50.
        var attachments: [String] = []
        switch attachmentsV {
        case nil, .null?:
            break
        case .array(let items)?:
            if items.count > 50 {
                c.add("attachments", .length, "must have at most 50 items, got \(items.count) (the first 50 are kept)")
            }
            attachments.reserveCapacity(min(items.count, 50))
            for (i, item) in items.enumerated() {
                let path = "attachments[\(i)]"
                guard case .string(let s) = item else {
                    c.add(path, .type, "expected a string, got \(item.typeDescription)")
                    continue
                }
                if c.length(s, path, min: 1, max: 2048), attachments.count < 50 { attachments.append(s) }
            }
        case let other?:
            c.add("attachments", .type, "expected an array, got \(other.typeDescription)")
        }

        // source_line: the hotline the ticket came in through (12345, or a department line merged into it).
        var sourceLine = c.string(sourceLineV, "source_line", required: false)
        if let given = sourceLine {
            if !given.utf8.allSatisfy(isIDByte) {
                c.add("source_line", .format, "must contain only A-Z a-z 0-9 . _ : -, got \(JSON.quoted(given))")
                sourceLine = nil
            } else if !c.length(given, "source_line", min: 1, max: 32) {
                sourceLine = nil
            }
        }

        guard let id, let received, let channel, let kind, let text, !c.list.contains(where: isBlocking) else {
            return .failure(TicketValidationError(issues: c.list)!)
        }
        return .success(
            Ticket(
                id: id, receivedAt: received.date, receivedAtOffsetSeconds: received.offsetSeconds,
                channel: channel, kind: kind, text: text, category: category, urgency: urgency,
                enterprise: enterprise, caller: caller, region: region, address: address, title: title,
                attachments: attachments,
                extra: JSONObject(uniqueMembers: extra, index: nil),
                json: root, warnings: c.list, sourceLine: sourceLine))
    }

    /// The fields a ticket cannot be without: a problem with any of them (or with the document) rejects it.
    public static let requiredFields: Set<String> = ["id", "received_at", "channel", "kind", "text"]

    /// Whether `issue` rejects the ticket: it concerns the document itself (path "") or a required field.
    /// Any other issue concerns an optional field, which is left out of the ticket with the issue as a warning.
    public static func isBlocking(_ issue: ValidationIssue) -> Bool {
        issue.path.isEmpty || requiredFields.contains(topLevelField(of: issue.path))
    }

    /// The paths a warning is counted under (`warningField`): the optional fields and their members.
    public static let degradingFields = [
        "category", "urgency", "enterprise", "enterprise.name", "enterprise.credit_code", "caller", "caller.name",
        "caller.phone", "region", "region.district", "region.town", "region.village", "region.code", "address", "title",
        "attachments",
    ]

    /// The bounded name of the field an issue's path concerns, for metrics: the path itself when it is
    /// one of `degradingFields`, else its top-level field (`attachments[3]` and `caller.wechat` give
    /// `attachments` and `caller`).
    public static func warningField(of path: String) -> String {
        degradingFields.contains(path) ? path : topLevelField(of: path)
    }

    /// The top-level field of a path: what comes before its first "." or "[".
    static func topLevelField(of path: String) -> String {
        String(path.prefix { $0 != "." && $0 != "[" })
    }

    /// True when `s` is lowercase segments of [a-z0-9_] joined by single dots ("living_environment.water").
    public static func isCategoryPath(_ s: String) -> Bool {
        var prevDot = true
        for c in s.utf8 {
            if c == 0x2E {
                if prevDot { return false }
                prevDot = true
            } else if (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) || c == 0x5F {
                prevDot = false
            } else {
                return false
            }
        }
        return !prevDot
    }

    /// True when `s` has the shape of a unified social credit code: 18 of [0-9A-HJ-NPQRTUWXY] (checksum not verified).
    public static func isCreditCode(_ s: String) -> Bool {
        guard s.utf8.count == 18 else { return false }
        for c in s.utf8 {
            switch c {
            case 0x30...0x39: continue
            case 0x41...0x5A:
                // I O Z S V are not used in credit codes.
                if c == 0x49 || c == 0x4F || c == 0x5A || c == 0x53 || c == 0x56 { return false }
            default: return false
            }
        }
        return true
    }

    /// Digit count of a phone made of ASCII digits, spaces and hyphens with an optional leading "+"; nil when other characters occur.
    public static func phoneDigitCount(_ s: String) -> Int? {
        var n = 0
        var first = true
        for c in s.utf8 {
            defer { first = false }
            if c >= 0x30 && c <= 0x39 {
                n += 1
            } else if c == 0x20 || c == 0x2D || (c == 0x2B && first) {
                continue
            } else {
                return nil
            }
        }
        return n
    }
}

@inline(__always)
private func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }

@inline(__always)
private func isIDByte(_ c: UInt8) -> Bool {
    (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
        || c == 0x2E || c == 0x5F || c == 0x3A || c == 0x2D
}

@inline(__always)
private func isAbsent(_ v: JSONValue?) -> Bool {
    switch v {
    case nil, .null?: return true
    default: return false
    }
}
