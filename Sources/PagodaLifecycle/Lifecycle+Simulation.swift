import Foundation
import PagodaJSON
import PagodaRules

/// What the simulator (`PagodaSimulation`) reads of the lifecycle beyond its public calls.
extension Lifecycle {
    /// The UTC offset events are written with (the rules calendar's).
    package var offsetSeconds: Int { offset }

    /// `dispatch(_:now:appendingTo:)` with the input's parts, the decision read in place (the simulator
    /// keeps no `DispatchInput` to copy).
    package func dispatch(
        routed decision: borrowing Decision, receivedAt: Date, repeatOf: String?, enterpriseRepeat: Bool, now: Date,
        appendingTo events: inout [LifecycleEvent]
    ) -> Transition {
        dispatch(
            decision, receivedAt: receivedAt, repeatOf: repeatOf, enterpriseRepeat: enterpriseRepeat, now: now,
            appendingTo: &events)
    }
}
