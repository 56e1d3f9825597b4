import Logging
import PagodaJSON
import PagodaStore
import ServiceLifecycle

/// Copies the SQLite WAL back into the database file every `interval`, on its own connection (and that
/// connection's queue, through GRDB's async access), so that no intake commit, command or timer batch waits
/// for that copy and its fsync.
///
/// The checkpoints are passive: they run beside the writer and the readers and take what is committed
/// at the time. Stops at graceful shutdown.
final class Checkpointer: Service {
    let store: DispatchStore
    let interval: Duration
    let logger: Logger

    init(store: DispatchStore, interval: Duration = .milliseconds(250), logger: Logger) {
        self.store = store
        self.interval = interval
        self.logger = logger
    }

    func run() async throws {
        let stop = Signal()
        await withGracefulShutdownHandler {
            var failing = false
            while true {
                do {
                    let r = try await store.checkpoint()
                    if failing { logger.info("checkpoints resumed") }
                    failing = false
                    if r.walFrames > 0 {
                        logger.trace(
                            "checkpoint",
                            metadata: [
                                "wal.frames": "\(r.walFrames)", "wal.checkpointed": "\(r.checkpointed)",
                                "wal.restarted": "\(r.restarted)",
                            ])
                    }
                } catch {
                    // The commits' own safety limit still bounds the WAL; keep trying.
                    if !failing { logger.warning("checkpoint failed; retrying", metadata: ["error": "\(error)"]) }
                    failing = true
                }
                // Finished (graceful shutdown) ends the loop; a notification never comes, the timeout does.
                guard await stop.wait(atMost: interval) else { break }
            }
        } onGracefulShutdown: {
            stop.finish()
        }
    }
}
