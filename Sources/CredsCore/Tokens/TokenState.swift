import CredsProtocol
import NIOCore

/// Where one connection's token stands, for the record at `revision`. A connection with no state is fresh (or
/// has never been asked for): its token is read from the record or cache.
///
///     fresh ──(expiring)──▶ refreshing(flight) ──issued──▶ fresh
///                              │   ▲                  └─refused─▶ reauthRequired
///                           failed │ (after until)
///                              ▼   │
///                          backingOff(until)
enum TokenState: Sendable {
    /// A refresh or mint is in flight: every caller for this revision waits for the same one.
    case refreshing(revision: UInt64, flight: EventLoopFuture<AccessToken>, failures: Int)
    /// The last `failures` attempts failed: none before `until` (the pause doubles up to a ceiling).
    case backingOff(revision: UInt64, until: Timestamp, failures: Int)
    /// The provider refused: the connection is being (or was) put in `error`; nothing is asked again for this
    /// revision (a new authorization moves the revision).
    case reauthRequired(revision: UInt64, message: String)

    var revision: UInt64 {
        switch self {
        case .refreshing(let revision, _, _), .backingOff(let revision, _, _), .reauthRequired(let revision, _):
            revision
        }
    }
}
