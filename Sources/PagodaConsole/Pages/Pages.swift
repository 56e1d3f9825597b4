import Hummingbird

/// Where the console's pages register their routes (board, unit inbox, ticket, centre desk, reports,
/// rules). Everything registered here runs behind `ConsoleAuthMiddleware`: `context.user` is set and a
/// state-changing request has passed the CSRF check. See `ConsoleConfiguration`'s documentation (the
/// console's main file) for how pages render and check access.
public enum ConsolePages {
    /// Registers the pages with rates of their own (`ConsoleApplication.router` shares one set of rates
    /// between the pages and the API instead).
    public static func register(on group: RouterGroup<ConsoleRequestContext>, environment env: ConsoleEnvironment) {
        let rates = LiveRates(
            store: env.store, logger: env.logger, offsetSeconds: env.configuration.offsetSeconds, clock: env.clock)
        rates.start()
        PageRoutes.register(on: group, env: env, rates: rates)
    }
}
