import Hummingbird

/// The routes of the console's pages (board, unit inbox, ticket, centre desk, reports, rules), all
/// behind the authentication middleware; `ConsolePages.register` calls it.
enum PageRoutes {
    static func register(on group: RouterGroup<ConsoleRequestContext>, env: ConsoleEnvironment) {
        // The rates of today and of the month, fed on a thread of their own while the routes live.
        let rates = LiveRates(
            store: env.store, logger: env.logger, offsetSeconds: env.configuration.offsetSeconds, clock: env.clock)
        rates.start()
        BoardPage.register(on: group, env: env, rates: rates)
        InboxPage.register(on: group, env: env)
        InboxPage.registerCount(on: group, env: env)
        TicketPage.register(on: group, env: env)
        CentrePage.register(on: group, env: env)
        ReportsPage.register(on: group, env: env)
        RulesPage.register(on: group, env: env)
    }
}
