import PagodaJSON

/// SHA-256 digests for callers outside the rules (the console keeps session and API tokens only as
/// their digest).
public enum Digest {
    /// The SHA-256 of `bytes` as 64 lowercase hex digits.
    public static func sha256Hex(_ bytes: some Sequence<UInt8>) -> String { SHA256.hex(bytes) }
}
