import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Holds an exclusive advisory lock (`flock`) on `DATABASE.lock`, beside the database, for as long as it
/// lives, so that a second `pagoda serve` on the same database refuses to start instead of running a
/// second relay that publishes every row again.
///
/// The lock file is created with mode 0600 and holds the holder's PID (for the error message of the next
/// one). The kernel releases the lock when the process ends, however it ends (a `kill -9` too), so a stale
/// file never blocks a restart. Behaviour on network file systems is theirs: keep the database local.
public final class InstanceLock: Sendable {
    /// Why a lock could not be taken: a closed set of codes.
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public enum Code: String, Sendable {
            /// Another process holds the lock.
            case held
            /// The lock file cannot be opened or locked (permissions, missing directory).
            case io
        }

        public let code: Code
        public let path: String
        /// The PID written in the lock file by its holder, when it could be read.
        public let holder: Int32?
        public let detail: String

        public var description: String {
            switch code {
            case .held:
                let who = holder.map { "process \($0)" } ?? "another process"
                return "\(path) is locked by \(who): another pagoda serve is using this database (stop it first)"
            case .io:
                return "cannot lock \(path): \(detail)"
            }
        }
    }

    public let path: String
    private let descriptor: Int32

    /// The lock file's path for a database.
    public static func path(forDatabase database: String) -> String { database + ".lock" }

    /// Takes the lock at once or throws `Failure` (`held` naming the holder's PID); never waits.
    public init(database: String) throws(Failure) {
        let path = Self.path(forDatabase: database)
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw Failure(code: .io, path: path, holder: nil, detail: String(cString: strerror(errno)))
        }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let err = errno
            let holder = Self.readPID(fd)
            close(fd)
            if err == EWOULDBLOCK { throw Failure(code: .held, path: path, holder: holder, detail: "") }
            throw Failure(code: .io, path: path, holder: nil, detail: String(cString: strerror(err)))
        }
        // A file created by an older umask or by hand may be wider: the lock file says who serves the database.
        _ = fchmod(fd, 0o600)
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        self.path = path
        self.descriptor = fd
    }

    deinit {
        // Closing the descriptor releases the lock; the file stays (removing it would race a starting instance).
        close(descriptor)
    }

    private static func readPID(_ fd: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return nil }
        return Int32(String(decoding: buffer[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
