import Foundation

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
