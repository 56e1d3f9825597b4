import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The sizes of a store's files, and the room left beside them.
public struct StoreFileSizes: Sendable, Hashable {
    /// The database file, in bytes (0 when it cannot be read).
    public var database: Int64
    /// The write-ahead log (`-wal`), in bytes (0 when there is none).
    public var wal: Int64
    /// Bytes an unprivileged process may still write on the database's file system; nil when unknown.
    public var available: Int64?
}

/// The database file and its `-wal` and `-shm` companions on disk: kept private to their owner, and measured.
///
/// They hold callers' names, phone numbers and complaints, so no other user may read them: the database
/// file is created 0600 before SQLite opens it, and SQLite creates the `-wal` and `-shm` files with the
/// database file's permissions (it sets them on the new file, whatever the umask). The directory, when
/// the store has to create it, is created 0700; an existing directory is left as it is.
enum StoreFiles {
    /// Creates the database's directory (0700, each component it creates) and the empty database file
    /// (0600) when they are missing, and takes group and other permissions off an existing database file
    /// and its `-wal` and `-shm` files (files created by an earlier version were 0644).
    ///
    /// Throws `.cannotOpen` naming the path and the system's reason when a directory or the file cannot be
    /// created. An existing file whose permissions cannot be changed (another user's, a read-only copy
    /// opened by `pagoda show` or `report`) is left as it is: SQLite then opens it or says why not.
    static func prepare(_ path: String) throws(StoreError) {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty { try makeDirectory(directory) }
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if fd >= 0 {
            close(fd)
        } else if errno != EEXIST {
            throw failure("cannot create the database file", path)
        }
        for file in [path, path + "-wal", path + "-shm"] {
            var s = stat()
            guard stat(file, &s) == 0 else { continue }
            let mode = s.st_mode & 0o7777
            if mode & 0o077 != 0 { _ = chmod(file, mode & 0o700) }
        }
    }

    /// `mkdir -p` with mode 0700 for the components it creates.
    private static func makeDirectory(_ directory: String) throws(StoreError) {
        var s = stat()
        if stat(directory, &s) == 0 { return }
        let parent = (directory as NSString).deletingLastPathComponent
        if !parent.isEmpty && parent != directory { try makeDirectory(parent) }
        if mkdir(directory, 0o700) != 0 && errno != EEXIST {
            throw failure("cannot create the database's directory", directory)
        }
        // mkdir's mode is cut by the umask; say exactly 0700.
        _ = chmod(directory, 0o700)
    }

    private static func failure(_ what: String, _ path: String) -> StoreError {
        StoreError(.cannotOpen, "\(what) \(path): \(String(cString: strerror(errno)))")
    }

    /// The sizes of the database file and its WAL, and the room left on their file system.
    static func sizes(_ path: String) -> StoreFileSizes {
        func size(_ file: String) -> Int64 {
            var s = stat()
            return stat(file, &s) == 0 ? Int64(s.st_size) : 0
        }
        var v = statvfs()
        let directory = (path as NSString).deletingLastPathComponent
        let known = statvfs(directory.isEmpty ? "." : directory, &v) == 0
        let available: Int64? = known ? Int64(v.f_bavail) * Int64(v.f_frsize) : nil
        return StoreFileSizes(database: size(path), wal: size(path + "-wal"), available: available)
    }
}
