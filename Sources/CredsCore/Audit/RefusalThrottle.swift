import Synchronization

/// Paces the audit entries of refused requests (SPEC section 7): at most `perSecond` a second from one peer uid;
/// the rest of that second becomes one entry with `suppressed: N`. Without it, a caller with no grant could
/// grow the trail, and the store, as fast as it can send.
final class RefusalThrottle: Sendable {
    static let perSecond = 100
    /// Windows kept before old, settled ones are dropped.
    private static let pruneAbove = 256

    private struct Window {
        var second: Int64
        var recorded: Int
        var suppressed: Int64
        var socket: SocketKind
    }

    /// A summary to append: `suppressed` refusals of `peerUid` in one second.
    struct Summary: Equatable {
        let peerUid: UInt32?
        let socket: SocketKind
        let suppressed: Int64
    }

    struct Admission {
        /// Whether this refusal gets its own entry.
        let record: Bool
        /// Summaries of earlier seconds to append now.
        let summaries: [Summary]
        /// This refusal was the first suppressed of its second: close the window when the second ends.
        let closeAt: Int64?
    }

    private let windows = Mutex<[UInt32?: Window]>([:])

    /// Counts a refusal of `peerUid` in `second` (seconds since the epoch).
    func admit(peerUid: UInt32?, socket: SocketKind, second: Int64) -> Admission {
        windows.withLock { windows in
            var summaries: [Summary] = []
            var window = windows[peerUid] ?? Window(second: second, recorded: 0, suppressed: 0, socket: socket)
            if window.second != second {
                if window.suppressed > 0 {
                    summaries.append(Summary(peerUid: peerUid, socket: window.socket, suppressed: window.suppressed))
                }
                window = Window(second: second, recorded: 0, suppressed: 0, socket: socket)
            }
            let record = window.recorded < Self.perSecond
            var closeAt: Int64?
            if record {
                window.recorded += 1
            } else {
                if window.suppressed == 0 { closeAt = second }
                window.suppressed += 1
            }
            windows[peerUid] = window
            if windows.count > Self.pruneAbove {
                windows = windows.filter { $0.value.second >= second - 1 || $0.value.suppressed > 0 }
            }
            return Admission(record: record, summaries: summaries, closeAt: closeAt)
        }
    }

    /// Every summary not yet taken (at shutdown, when the timers that would take them no longer run).
    func closeAll() -> [Summary] {
        windows.withLock { windows in
            var summaries: [Summary] = []
            for (peerUid, window) in windows where window.suppressed > 0 {
                summaries.append(Summary(peerUid: peerUid, socket: window.socket, suppressed: window.suppressed))
                windows[peerUid]?.suppressed = 0
            }
            return summaries
        }
    }

    /// The summary of `peerUid`'s window for `second`, once: nil if it was already taken or had none.
    func close(peerUid: UInt32?, second: Int64) -> Summary? {
        windows.withLock { windows in
            guard var window = windows[peerUid], window.second == second, window.suppressed > 0 else { return nil }
            let summary = Summary(peerUid: peerUid, socket: window.socket, suppressed: window.suppressed)
            window.suppressed = 0
            windows[peerUid] = window
            return summary
        }
    }
}
