import Hummingbird

/// The routes of the console's pages (board, unit inbox, ticket, centre desk, reports, rules), all
/// behind the authentication middleware; `ConsoleApplication.router` calls it with the rates it started.
enum PageRoutes {
    static func register(on group: RouterGroup<ConsoleRequestContext>, env: ConsoleEnvironment, rates: LiveRates) {
        BoardPage.register(on: group, env: env, rates: rates)
        InboxPage.register(on: group, env: env)
        InboxPage.registerCount(on: group, env: env)
        TicketPage.register(on: group, env: env)
        CentrePage.register(on: group, env: env)
        ReportsPage.register(on: group, env: env)
        RulesPage.register(on: group, env: env)
    }
}
