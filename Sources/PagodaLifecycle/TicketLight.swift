import Foundation
import PagodaJSON
import PagodaRules

/// A ticket's traffic light (红灯/黄灯/绿灯) as the console shows it: red when a running clock of the holder
/// is past its deadline (its red light was shown), yellow when one showed its yellow light, else green.
public enum Light: String, Sendable, Hashable, CaseIterable {
    case green, yellow, red
}

/// Which of the centre's desks an open ticket waits at (`/centre`).
public enum CentreDesk: String, Sendable, Hashable, CaseIterable {
    /// Held by the triage unit: the centre dispatches it by hand (人工派单).
    case triage
    /// The holder asked to return it (退单审核).
    case returnRequest = "return"
    /// The holder asked for more time (延期审核).
    case extensionRequest = "extension"
    /// Replied; waiting for the centre's callback (待回访).
    case callback
}

extension TicketState {
    /// The light of an open ticket, from its running clocks (paused ones keep theirs); nil once final.
    /// A ticket under supervision (督办) is red.
    public var light: Light? {
        if phase.isFinal { return nil }
        var yellow = false
        for c in clocks where c.isRunning {
            if c.overdue { return .red }
            if c.warned { yellow = true }
        }
        if supervised { return .red }
        return yellow ? .yellow : .green
    }

    /// The nearest deadline the ticket waits for: the earliest of its ticking clocks, else a pending
    /// request's review; nil when none (a replied ticket waits for the callback, which has no deadline).
    public var nearestDue: Date? {
        if phase.isFinal { return nil }
        var due: Date?
        for c in clocks where c.isTicking && (due.map { c.due < $0 } ?? true) { due = c.due }
        if let due { return due }
        return pendingReturn?.reviewDue ?? pendingExtension?.reviewDue
    }

    /// The centre desk the ticket waits at, if any: a request first, then the callback, then triage.
    public func centreDesk(triageQueue: String = "triage") -> CentreDesk? {
        if phase.isFinal { return nil }
        if pendingReturn != nil || phase == .returnRequested { return .returnRequest }
        if pendingExtension != nil { return .extensionRequest }
        if phase == .replied { return .callback }
        if holder?.queue == triageQueue { return .triage }
        return nil
    }
}
