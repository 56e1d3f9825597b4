import Foundation
import PagodaJSON

/// Masks caller phone numbers for logs and operator screens.
public enum PhoneMask {
    /// Returns a masked, digits-only form of `phone`: a mainland mobile keeps its first 3 and last 4 digits ("138****5678"), anything else keeps only its last 2.
    ///
    /// Only ASCII digits are considered; spaces, hyphens, "+", parentheses and other characters are
    /// dropped. A mainland mobile is 11 digits starting with "1", optionally preceded by the country
    /// code "86" or "0086" (which is dropped from the output). Other numbers (landlines, short
    /// service numbers, foreign numbers) become "*" for every digit but the last 2: "0757-8333-1234"
    /// → "*********34". Numbers with 1-2 digits are fully masked ("**"); input without digits
    /// returns "". Never fails.
    public static func mask(_ phone: String) -> String {
        var digits: [UInt8] = []
        digits.reserveCapacity(20)
        for c in phone.utf8 where c >= 0x30 && c <= 0x39 { digits.append(c) }
        if digits.count == 13 && digits[0] == 0x38 && digits[1] == 0x36 && digits[2] == 0x31 {
            digits.removeFirst(2)
        } else if digits.count == 15 && digits[0] == 0x30 && digits[1] == 0x30 && digits[2] == 0x38
            && digits[3] == 0x36 && digits[4] == 0x31
        {
            digits.removeFirst(4)
        }
        let star: UInt8 = 0x2A
        let n = digits.count
        if n == 11 && digits[0] == 0x31 {
            for i in 3..<7 { digits[i] = star }
            return String(decoding: digits, as: UTF8.self)
        }
        for i in 0..<max(0, n - 2) { digits[i] = star }
        if n <= 2 { for i in 0..<n { digits[i] = star } }
        return String(decoding: digits, as: UTF8.self)
    }
}

extension PhoneMask {
    /// `text` with the phone numbers it may hold masked (`mask`), for showing stored message bodies.
    ///
    /// Masks the string value of every `"phone"` key (JSON written plainly: the key without escapes,
    /// its value up to the next unescaped quote), and anywhere else every mainland mobile number, with
    /// or without `+86`/`86`, written as 11 digits or as `3-4-4` with single spaces or hyphens, that is
    /// not part of a longer run of digits (so dates, region codes and credit codes stay readable).
    /// Invalid UTF-8 is shown with replacement characters. Never fails.
    public static func maskNumbers(in text: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(text.count)
        var i = 0
        let n = text.count
        func isDigit(_ j: Int) -> Bool { j >= 0 && j < n && text[j] >= 0x30 && text[j] <= 0x39 }
        while i < n {
            // "phone" : "VALUE"
            if text[i] == 0x22, let valueStart = phoneValueStart(text, after: i) {
                var j = valueStart
                while j < n && text[j] != 0x22 { j += text[j] == 0x5C ? 2 : 1 }
                let end = min(j, n)
                out += text[i..<valueStart]
                out += Array(mask(String(decoding: text[valueStart..<end], as: UTF8.self)).utf8)
                i = end
                continue
            }
            if isDigit(i) && !isDigit(i - 1), let length = mobileLength(text, at: i), !isDigit(i + length) {
                out += Array(mask(String(decoding: text[i..<(i + length)], as: UTF8.self)).utf8)
                i += length
                continue
            }
            out.append(text[i])
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Where the string value of a `"phone"` key starting at `quote` begins, or nil.
    private static func phoneValueStart(_ t: [UInt8], after quote: Int) -> Int? {
        let key = Array("\"phone\"".utf8)
        guard quote + key.count <= t.count, Array(t[quote..<(quote + key.count)]) == key else { return nil }
        var j = quote + key.count
        func skipSpace() {
            while j < t.count && (t[j] == 0x20 || t[j] == 0x09 || t[j] == 0x0A || t[j] == 0x0D) { j += 1 }
        }
        skipSpace()
        guard j < t.count, t[j] == 0x3A else { return nil }
        j += 1
        skipSpace()
        guard j < t.count, t[j] == 0x22 else { return nil }
        return j + 1
    }

    /// The length of a mainland mobile number starting at `i` (an optional `86`, then 1 and 10 more
    /// digits, optionally grouped 3-4-4 by one space or hyphen), or nil.
    private static func mobileLength(_ t: [UInt8], at i: Int) -> Int? {
        func digits(_ from: Int, _ count: Int) -> Bool {
            from + count <= t.count && t[from..<(from + count)].allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
        }
        func number(at s: Int) -> Int? {
            guard s < t.count, t[s] == 0x31 else { return nil }
            if digits(s, 11) { return 11 }
            guard digits(s, 3), s + 3 < t.count else { return nil }
            let sep = t[s + 3]
            guard sep == 0x20 || sep == 0x2D, digits(s + 4, 4), s + 8 < t.count, t[s + 8] == sep, digits(s + 9, 4)
            else {
                return nil
            }
            return 13
        }
        if let n = number(at: i) { return n }
        // With the country code: 86, then at most one space or hyphen.
        guard i + 1 < t.count, t[i] == 0x38, t[i + 1] == 0x36 else { return nil }
        if let n = number(at: i + 2) { return n + 2 }
        if i + 2 < t.count, t[i + 2] == 0x20 || t[i + 2] == 0x2D, let n = number(at: i + 3) { return n + 3 }
        return nil
    }
}
