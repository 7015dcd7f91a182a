import CredsProtocol
import Synchronization

/// What executors reported about the credentials they were given (SPEC 11), held in memory on this host:
/// cooldowns of connections and of built-in keys (per provider), and recent `unauthorized` reports per connection.
/// A restart forgets them: a cooldown lasts at most an hour, and three fresh reports put a broken key in `error`
/// again. In cluster mode each host keeps its own (an `error` status it sets is a write, and reaches every host).
final class ConnectionHealth: Sendable {
    /// Reports of `unauthorized` that put an API-key connection in `error`, within `unauthorizedWindow`.
    static let unauthorizedReports = 3
    static let unauthorizedWindowMicros: Int64 = 5 * 60 * 1_000_000
    static let defaultCooldownSeconds: Int64 = 60
    static let maxCooldownSeconds: Int64 = 3_600

    private struct State {
        var connections: [Identifier: Timestamp] = [:]
        var builtinKeys: [Identifier: Timestamp] = [:]
        var unauthorized: [Identifier: [Timestamp]] = [:]
        var forcedRefreshes: [Identifier: Timestamp] = [:]
    }

    private let state = Mutex(State())
    /// How many cooldowns are held (expired ones included until looked at): resolves skip the lock while 0.
    private let cooldowns = Atomic<Int>(0)

    /// Until when `connectionId` cools down; nil when it does not (any more). On every resolve: no lock and no
    /// clock while no cooldown is held.
    func coolingDown(connection connectionId: Identifier) -> Timestamp? {
        guard cooldowns.load(ordering: .relaxed) > 0 else { return nil }
        let now = Timestamp.now()
        return state.withLock { $0.connections[connectionId] }.flatMap { $0 > now ? $0 : nil }
    }

    /// Until when the platform's key for `provider` cools down; nil when it does not.
    func coolingDown(builtin provider: Identifier) -> Timestamp? {
        guard cooldowns.load(ordering: .relaxed) > 0 else { return nil }
        let now = Timestamp.now()
        return state.withLock { $0.builtinKeys[provider] }.flatMap { $0 > now ? $0 : nil }
    }

    /// Starts (or extends) a cooldown of `seconds` (default 60, at most 3,600); returns its end, and whether it is
    /// new (none was running): only a new one is an event.
    func coolDown(connection connectionId: Identifier?, builtin provider: Identifier?, seconds: Int64?, now: Timestamp)
        -> (until: Timestamp, started: Bool)
    {
        let length = min(max(seconds ?? Self.defaultCooldownSeconds, 1), Self.maxCooldownSeconds)
        let until = Timestamp(microseconds: now.microseconds &+ length * 1_000_000)
        return state.withLock { state in
            let previous: Timestamp?
            if let connectionId {
                previous = state.connections[connectionId]
                state.connections[connectionId] = max(previous ?? until, until)
            } else if let provider {
                previous = state.builtinKeys[provider]
                state.builtinKeys[provider] = max(previous ?? until, until)
            } else {
                return (until, false)
            }
            if previous == nil { cooldowns.add(1, ordering: .relaxed) }
            return (max(previous ?? until, until), !(previous.map { $0 > now } ?? false))
        }
    }

    /// An `ok` report: the cooldown ends, and earlier `unauthorized` reports no longer count.
    func clear(connection connectionId: Identifier?, builtin provider: Identifier?) {
        state.withLock { state in
            var removed = false
            if let connectionId {
                removed = state.connections.removeValue(forKey: connectionId) != nil
                state.unauthorized.removeValue(forKey: connectionId)
            } else if let provider {
                removed = state.builtinKeys.removeValue(forKey: provider) != nil
            }
            if removed { cooldowns.subtract(1, ordering: .relaxed) }
        }
    }

    /// Counts an `unauthorized` report; true when it makes `unauthorizedReports` within the window (the counter
    /// then starts again).
    func unauthorized(connection connectionId: Identifier, now: Timestamp) -> Bool {
        state.withLock { state in
            var recent = (state.unauthorized[connectionId] ?? []).filter {
                now.microseconds &- $0.microseconds < Self.unauthorizedWindowMicros
            }
            recent.append(now)
            if recent.count >= Self.unauthorizedReports {
                state.unauthorized.removeValue(forKey: connectionId)
                return true
            }
            state.unauthorized[connectionId] = recent
            return false
        }
    }

    /// Whether an `unauthorized` report about an OAuth connection may force a refresh now: at most one a minute
    /// per connection (SPEC 11).
    func mayForceRefresh(connection connectionId: Identifier, now: Timestamp) -> Bool {
        state.withLock { state in
            if let last = state.forcedRefreshes[connectionId],
                now.microseconds &- last.microseconds < Self.forcedRefreshIntervalMicros
            {
                return false
            }
            // Entries older than the interval mean nothing: dropped as they are passed, so the table stays small.
            state.forcedRefreshes = state.forcedRefreshes.filter {
                now.microseconds &- $0.value.microseconds < Self.forcedRefreshIntervalMicros
            }
            state.forcedRefreshes[connectionId] = now
            return true
        }
    }

    static let forcedRefreshIntervalMicros: Int64 = 60 * 1_000_000

    /// Forgets a connection that was deleted or revoked.
    func forget(_ connectionId: Identifier) {
        clear(connection: connectionId, builtin: nil)
        state.withLock { _ = $0.forcedRefreshes.removeValue(forKey: connectionId) }
    }
}
