import CredsProtocol
import Synchronization

/// What executors reported about the credentials they were given (SPEC 11), held in memory on this host:
/// cooldowns of connections and of the platform's keys, recent `unauthorized` reports, forced refreshes.
///
/// - A connection's state is bound to its authorization (`authorizationVersion`): a new key stored, or a new
///   authorization, starts it afresh, so reports about the old key never count against the new one.
/// - A platform key cools down for the workspace that reported it only: one workspace's executors cannot throttle
///   (or un-throttle) the key every other workspace is served.
/// - A cooldown that starts is an event at most once a minute per subject, whatever `ok` reports come between.
///
/// A restart forgets all of it: a cooldown lasts at most an hour, and three fresh reports put a broken key in
/// `error` again. In cluster mode each host keeps its own (an `error` status it sets is a write, and reaches every
/// host).
final class ConnectionHealth: Sendable {
    /// Reports of `unauthorized` that put an API-key connection in `error`, within `unauthorizedWindowMicros`.
    static let unauthorizedReports = 3
    static let unauthorizedWindowMicros: Int64 = 5 * 60 * 1_000_000
    static let defaultCooldownSeconds: Int64 = 60
    static let maxCooldownSeconds: Int64 = 3_600
    static let forcedRefreshIntervalMicros: Int64 = 60 * 1_000_000
    /// The least time between two `connection.cooling_down` events about one subject.
    static let coolingEventIntervalMicros: Int64 = 60 * 1_000_000
    /// Cooldowns held past which a new one sweeps out the expired.
    static let sweepAbove = 1_024

    /// What a cooldown is about: a connection, or one platform key as one workspace uses it.
    enum Subject: Hashable, Sendable {
        case connection(Identifier)
        case builtinKey(workspace: Identifier, keyId: String)
    }

    private struct Cooldown {
        /// The connection's `authorizationVersion` (0 for a platform key).
        var version: UInt64
        var until: Timestamp
        /// The outcome class of the report that started or last extended it (`rate_limited`, …).
        var reason: String
    }

    private struct Refusals {
        var version: UInt64
        var times: [Timestamp]
    }

    private struct State {
        var cooldowns: [Subject: Cooldown] = [:]
        var coolingEvents: [Subject: Timestamp] = [:]
        var unauthorized: [Identifier: Refusals] = [:]
        var forcedRefreshes: [Identifier: Timestamp] = [:]
        /// Connections whose announced cooldown sends `auto` resolves to the platform key (`fallbackOn`).
        var fallbacks: Set<Identifier> = []
    }

    private let state = Mutex(State())
    /// How many cooldowns are held: resolves take no lock and read no clock while it is 0. Kept under the lock with
    /// the table; expired cooldowns are removed (and counted off) when a resolve finds them.
    private let held = Atomic<Int>(0)
    /// How many fallbacks are running: resolves take no lock to learn that none ended while it is 0.
    private let fallingBack = Atomic<Int>(0)

    /// Until when `subject` cools down for a credential at `version`, and why; nil when it does not.
    func coolingDown(_ subject: Subject, version: UInt64 = 0) -> (until: Timestamp, reason: String)? {
        guard held.load(ordering: .relaxed) > 0 else { return nil }
        let now = Timestamp.now()
        return state.withLock { state in
            guard let cooldown = state.cooldowns[subject] else { return nil }
            guard cooldown.until > now, cooldown.version == version else {
                if cooldown.until <= now || cooldown.version < version { remove(subject, from: &state) }
                return nil
            }
            return (cooldown.until, cooldown.reason)
        }
    }

    /// Starts (or extends) a cooldown of `seconds` (default 60, at least 1, at most 3,600); returns its end, and
    /// whether it is news worth an event (no cooldown was running, and none was announced within a minute).
    func coolDown(_ subject: Subject, version: UInt64 = 0, reason: String, seconds: Int64?, now: Timestamp)
        -> (until: Timestamp, announce: Bool)
    {
        let length = min(max(seconds ?? Self.defaultCooldownSeconds, 1), Self.maxCooldownSeconds)
        let requested = Timestamp(microseconds: now.microseconds &+ length * 1_000_000)
        return state.withLock { state in
            let running = state.cooldowns[subject].flatMap { $0.version == version && $0.until > now ? $0 : nil }
            let until = max(running?.until ?? requested, requested)
            if state.cooldowns[subject] == nil { held.add(1, ordering: .relaxed) }
            state.cooldowns[subject] = Cooldown(version: version, until: until, reason: reason)
            if state.cooldowns.count > Self.sweepAbove {
                // Cooldowns nobody resolves again would stay: past this many, the expired ones go.
                for (key, cooldown) in state.cooldowns where cooldown.until <= now { remove(key, from: &state) }
            }
            let announcedRecently = state.coolingEvents[subject].map {
                now.microseconds &- $0.microseconds < Self.coolingEventIntervalMicros
            }
            guard running == nil, announcedRecently != true else { return (until, false) }
            // Announcements older than the interval mean nothing: dropped as they are passed.
            state.coolingEvents = state.coolingEvents.filter {
                now.microseconds &- $0.value.microseconds < Self.coolingEventIntervalMicros
            }
            state.coolingEvents[subject] = now
            return (until, true)
        }
    }

    /// An `ok` report: the cooldown ends, and earlier `unauthorized` reports no longer count.
    func clear(_ subject: Subject) {
        state.withLock { state in
            remove(subject, from: &state)
            if case .connection(let id) = subject { state.unauthorized.removeValue(forKey: id) }
        }
    }

    /// Counts an `unauthorized` report about a connection at `version`; true when it makes `unauthorizedReports`
    /// within the window (the count then starts again). Reports about an earlier version do not count.
    func unauthorized(connection connectionId: Identifier, version: UInt64, now: Timestamp) -> Bool {
        state.withLock { state in
            var refusals = state.unauthorized[connectionId] ?? Refusals(version: version, times: [])
            if refusals.version != version { refusals = Refusals(version: version, times: []) }
            refusals.times = refusals.times.filter {
                now.microseconds &- $0.microseconds < Self.unauthorizedWindowMicros
            }
            refusals.times.append(now)
            if refusals.times.count >= Self.unauthorizedReports {
                state.unauthorized.removeValue(forKey: connectionId)
                return true
            }
            state.unauthorized[connectionId] = refusals
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
            state.forcedRefreshes = state.forcedRefreshes.filter {
                now.microseconds &- $0.value.microseconds < Self.forcedRefreshIntervalMicros
            }
            state.forcedRefreshes[connectionId] = now
            return true
        }
    }

    /// Notes that resolves of `connectionId`'s workspace fall back to the platform key while it cools down (its
    /// start was announced), so that its end is announced too.
    func startFallback(_ connectionId: Identifier) {
        state.withLock { state in
            if state.fallbacks.insert(connectionId).inserted { fallingBack.add(1, ordering: .relaxed) }
        }
    }

    /// Whether a fallback of `connectionId` was running; it ends here.
    func fallbackEnded(_ connectionId: Identifier) -> Bool {
        guard fallingBack.load(ordering: .relaxed) > 0 else { return false }
        return state.withLock { state in
            guard state.fallbacks.remove(connectionId) != nil else { return false }
            fallingBack.subtract(1, ordering: .relaxed)
            return true
        }
    }

    /// Forgets a connection that was deleted or revoked.
    func forget(_ connectionId: Identifier) {
        state.withLock { state in
            remove(.connection(connectionId), from: &state)
            state.unauthorized.removeValue(forKey: connectionId)
            state.forcedRefreshes.removeValue(forKey: connectionId)
            if state.fallbacks.remove(connectionId) != nil { fallingBack.subtract(1, ordering: .relaxed) }
        }
    }

    private func remove(_ subject: Subject, from state: inout State) {
        if state.cooldowns.removeValue(forKey: subject) != nil { held.subtract(1, ordering: .relaxed) }
    }
}
