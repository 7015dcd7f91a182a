import NIOCore
import Synchronization

/// What a socket enforces on each new connection; replaced on reload (SIGHUP), read at every accept.
struct ListenerSettings: Sendable {
    var peerPolicy: PeerPolicy
    var maxConnections: Int
    var idleTimeout: TimeAmount
    var maxFrameBytes: Int
}

/// A value shared between the daemon, which replaces it, and its listeners, which read it.
final class SettingsBox: Sendable {
    private let value: Mutex<ListenerSettings>

    init(_ settings: ListenerSettings) {
        value = Mutex(settings)
    }

    var current: ListenerSettings { value.withLock { $0 } }

    func replace(_ settings: ListenerSettings) {
        value.withLock { $0 = settings }
    }
}
