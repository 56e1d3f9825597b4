import PagodaTesting

/// Runs a service's loop (`run`) over `source` until `body` returns, then closes the source and waits for
/// the loop to end; when `body` throws, the loop is ended the same way and the error rethrown.
func whileRunning(
    _ run: @escaping @Sendable () async throws -> Void, over source: FakeDeliverySource,
    _ body: () async throws -> Void
) async throws {
    let task = Task { try await run() }
    do {
        try await body()
    } catch {
        await source.close(timeout: .seconds(1))
        _ = try? await task.value
        throw error
    }
    await source.close(timeout: .seconds(1))
    try await task.value
}
