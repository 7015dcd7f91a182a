import CredsProtocol
import Synchronization

/// Usage as it happens on this host, and the budgets' admission of built-in resolves (SPEC 12).
///
/// - Counted in memory, in shards by workspace and provider: a resolve takes one shard's lock for a few counter
///   updates, never a store transaction, and resolves of other workspaces rarely share the lock.
/// - What is counted goes to the store with the audit batch (`AuditWriter` drains the ledger in its job), so the
///   usage kept and the audit trail of the same resolves commit together.
/// - A budget's admission checks and counts under the shard's lock: concurrent resolves can never take more
///   than the limit on one host.
/// - Built-in use in the current day and month is loaded from the store at the first built-in use since the
///   daemon started (nothing was counted for that workspace and provider before, so the store has it all), then
///   counted here. Budgets and keys do not own the counts: setting a budget again or rotating a platform key
///   resets nothing.
final class UsageLedger: Sendable {
    struct Key: Hashable, Sendable {
        let workspaceId: Identifier
        let provider: Identifier
    }

    /// One workspace's use of one provider.
    private struct Entry {
        /// This host's built-in use in the current windows; nil until loaded from the store.
        var local: WindowUse?
        /// The other hosts' built-in use in the current windows (cluster mode).
        var others: WindowUse?
        var minute: Int64 = 0
        var minuteResolves: Int64 = 0
        /// Counts not yet in the store, by day.
        var pending: [UTCDay: UsageCounts] = [:]
        var lastUsed: Int64

        /// Loads this host's use from the store the first time, then moves both windows to `today`.
        mutating func roll(to today: UTCDay, load: (UTCDay) throws -> WindowUse) rethrows {
            if local == nil { local = try load(today) }
            local?.roll(to: today)
            others?.roll(to: today)
        }
    }

    private struct Shard {
        var entries: [Key: Entry] = [:]
        /// Keys whose `pending` holds counts.
        var dirty: Set<Key> = []

        /// Runs `body` on the entry of `key` (a new one if none) in place: no copy of its tables on every call.
        /// `body` says whether it added counts; the key is then queued for the store if it was not.
        mutating func withEntry<Result>(
            _ key: Key, now: Int64, _ body: (inout Entry) throws -> (Result, counted: Bool)
        ) rethrows -> Result {
            var queue = false
            let result = try Self.modify(&entries[key, default: Entry(lastUsed: now)]) { entry in
                entry.lastUsed = now
                let wasPending = !entry.pending.isEmpty
                let (result, counted) = try body(&entry)
                queue = counted && !wasPending
                return result
            }
            if queue { dirty.insert(key) }
            return result
        }

        /// Static: an instance method would copy the shard (and its table) while the entry is being modified,
        /// which unoptimized builds do not elide.
        private static func modify<Result>(_ entry: inout Entry, _ body: (inout Entry) throws -> Result) rethrows
            -> Result
        {
            try body(&entry)
        }
    }

    /// What the store takes in the next audit batch.
    struct Batch: Sendable {
        var rows: [(key: Key, day: UTCDay, counts: UsageCounts)] = []
        var events: [EventDraft] = []
        var isEmpty: Bool { rows.isEmpty && events.isEmpty }
    }

    static let shardCount = 16
    /// Entries unused this long, with nothing pending, are let go (their counts are in the store).
    static let idleSeconds: Int64 = 600

    /// A shard's lock, in a box: a `Mutex` cannot be an array's element.
    private final class ShardLock: Sendable {
        let mutex = Mutex(Shard())
    }

    private let shards: [ShardLock]
    private let events = Mutex<[EventDraft]>([])
    /// Whether anything waits for the store, so a flush with nothing else to write can skip the ledger.
    private let waiting = Atomic<Bool>(false)
    private let lastSweep = Atomic<Int64>(0)
    private let prune = Mutex<(day: Int, cursor: [UInt8]?)>((Int.min, nil))
    /// Cluster mode: days stored since the cluster database last took this host's figures.
    private let toShip = Mutex<Set<ShipKey>?>(nil)

    struct ShipKey: Hashable, Sendable {
        let key: Key
        let day: UTCDay
    }

    init() {
        shards = (0..<Self.shardCount).map { _ in ShardLock() }
    }

    private func shard(_ key: Key) -> ShardLock {
        shards[Int(UInt(bitPattern: key.hashValue) % UInt(Self.shardCount))]
    }

    // MARK: Resolves

    /// A resolve served by the workspace's own key.
    func countByoResolve(_ key: Key, now: Timestamp) {
        update(key, now: now) { entry, today in
            entry.pending[today, default: UsageCounts()].byoResolves += 1
        }
    }

    /// A built-in resolve: refused (`budget_exhausted`, or `rate_limited` for `perMinute`, with
    /// `data.retryAfterSeconds`) when `budget` is spent, else counted when `consume` (not for `explain`). A
    /// refusal is not counted here: the caller may serve the call otherwise (`countRefusal`).
    /// `load` reads this host's stored use of the current windows, the first time it is needed.
    func admitBuiltIn(
        _ key: Key,
        budget: Budget?,
        fallbackReason: String?,
        now: Timestamp,
        consume: Bool,
        load: (UTCDay) throws -> WindowUse
    ) throws -> RPCError? {
        let today = UTCDay(now)
        let minute = now.seconds / 60
        var crossings: [EventDraft] = []
        let refusal = try shard(key).mutex.withLock { shard throws -> RPCError? in
            try shard.withEntry(key, now: now.seconds) { entry throws -> (RPCError?, counted: Bool) in
                try entry.roll(to: today, load: load)
                if entry.minute != minute {
                    entry.minute = minute
                    entry.minuteResolves = 0
                }
                if let budget, let refusal = Self.refusal(budget, entry: entry, now: now, today: today, minute: minute)
                {
                    return (refusal, false)
                }
                guard consume else { return (nil, false) }
                if let budget, let max = budget.maxResolves, let local = entry.local {
                    let used = Self.total(local.resolves(budget.period), entry.others?.resolves(budget.period))
                    crossings = Self.crossings(
                        from: used, by: 1, of: max, key: key, budget: budget, today: today, what: "max_resolves")
                }
                entry.local?.add(resolves: 1, units: 0)
                entry.minuteResolves &+= 1
                Self.count(&entry.pending[today, default: UsageCounts()], fallbackReason: fallbackReason)
                return (nil, true)
            }
        }
        // Events before the flag: a drain that clears the flag takes them too.
        if !crossings.isEmpty { events.withLock { $0 += crossings } }
        if consume { waiting.store(true, ordering: .releasing) }
        return refusal
    }

    /// A resolve a budget refused, by the refusal's reason.
    func countRefusal(_ key: Key, reason: ErrorReason, now: Timestamp) {
        update(key, now: now) { entry, today in
            entry.pending[today, default: UsageCounts()].refused[reason.rawValue, default: 0] += 1
        }
    }

    /// Events to write with the next batch (a fallback that ended, found by a resolve).
    func record(_ drafts: [EventDraft]) {
        events.withLock { $0 += drafts }
        waiting.store(true, ordering: .releasing)
    }

    /// Why `budget` refuses another built-in resolve now; nil when it does not.
    private static func refusal(_ budget: Budget, entry: Entry, now: Timestamp, today: UTCDay, minute: Int64)
        -> RPCError?
    {
        let local = entry.local ?? WindowUse(day: today)
        if let perMinute = budget.perMinute, entry.minuteResolves >= perMinute {
            let wait = max(1, (minute &+ 1) &* 60 &- now.seconds)
            return RPCError(
                .rateLimited, "the workspace's built-in resolves for this minute are used up (perMinute)",
                data: ["retryAfterSeconds": .int(wait), "limit": .string("perMinute")])
        }
        let spent: String?
        if let max = budget.maxResolves,
            total(local.resolves(budget.period), entry.others?.resolves(budget.period)) >= max
        {
            spent = "maxResolves"
        } else if let max = budget.maxUnits,
            total(local.units(budget.period), entry.others?.units(budget.period)) >= max
        {
            spent = "maxUnits"
        } else {
            spent = nil
        }
        guard let spent else { return nil }
        let resetsAt = budget.period.end(of: today).start
        let wait = max(1, (resetsAt.microseconds &- now.microseconds &+ 999_999) / 1_000_000)
        return RPCError(
            .budgetExhausted, "the workspace's \(budget.period.rawValue) budget of built-in use is spent (\(spent))",
            data: ["retryAfterSeconds": .int(wait), "limit": .string(spent), "resetsAt": .string(resetsAt.rfc3339)])
    }

    // MARK: Reports

    /// An executor's report: counted by outcome, and its units by source. Built-in units count against
    /// `budget`'s `maxUnits` (crossing 80 % and 100 % makes an event).
    func countReport(
        _ key: Key,
        outcome: String,
        source: CredentialSource,
        units: Int64,
        budget: Budget?,
        now: Timestamp,
        load: (UTCDay) throws -> WindowUse
    ) throws {
        let today = UTCDay(now)
        var crossings: [EventDraft] = []
        try shard(key).mutex.withLock { shard throws in
            try shard.withEntry(key, now: now.seconds) { entry throws -> ((), counted: Bool) in
                if source == .builtIn, units > 0 {
                    try entry.roll(to: today, load: load)
                    if let budget, let max = budget.maxUnits, let local = entry.local {
                        let used = Self.total(local.units(budget.period), entry.others?.units(budget.period))
                        crossings = Self.crossings(
                            from: used, by: units, of: max, key: key, budget: budget, today: today, what: "max_units")
                    }
                    entry.local?.add(resolves: 0, units: units)
                }
                Self.count(
                    &entry.pending[today, default: UsageCounts()], outcome: outcome, source: source, units: units)
                return ((), true)
            }
        }
        if !crossings.isEmpty { events.withLock { $0 += crossings } }
        waiting.store(true, ordering: .releasing)
    }

    // MARK: Reading

    /// This host's built-in use of the current windows and the other hosts', as known now (for `budgets.get`);
    /// `load` as for `admitBuiltIn`.
    func use(_ key: Key, now: Timestamp, load: (UTCDay) throws -> WindowUse) throws -> (
        local: WindowUse, others: WindowUse?, minuteResolves: Int64
    ) {
        let today = UTCDay(now)
        return try shard(key).mutex.withLock { shard throws in
            try shard.withEntry(key, now: now.seconds) { entry throws in
                try entry.roll(to: today, load: load)
                let use = (
                    entry.local ?? WindowUse(day: today), entry.others,
                    entry.minute == now.seconds / 60
                        ? entry.minuteResolves : 0
                )
                return (use, counted: false)
            }
        }
    }

    // MARK: Store

    /// Takes everything counted since the last drain, for the audit batch to write.
    func drain(now: Timestamp = .now()) -> Batch {
        guard waiting.exchange(false, ordering: .acquiringAndReleasing) else { return Batch() }
        var batch = Batch()
        let sweep = now.seconds &- lastSweep.load(ordering: .relaxed) >= 60
        if sweep { lastSweep.store(now.seconds, ordering: .relaxed) }
        for lock in shards {
            lock.mutex.withLock { shard in
                for key in shard.dirty {
                    guard let pending = shard.entries[key]?.pending else { continue }
                    for (day, counts) in pending { batch.rows.append((key, day, counts)) }
                    shard.entries[key]?.pending = [:]
                }
                if sweep {
                    // Not the keys of this batch (a reload before it commits would miss them), nor entries holding
                    // other hosts' use (it arrives only when it changes).
                    let draining = shard.dirty
                    shard.entries = shard.entries.filter {
                        now.seconds &- $0.value.lastUsed < Self.idleSeconds || $0.value.others != nil
                            || draining.contains($0.key)
                    }
                }
                shard.dirty.removeAll(keepingCapacity: true)
            }
        }
        batch.events = events.withLock { events in
            defer { events.removeAll() }
            return events
        }
        return batch
    }

    /// The next step of the daily prune of stored usage, if one is due: the first day to keep, and the key to
    /// scan from. A prune starts with the first flush of each UTC day and goes on a slice per flush
    /// (`CredsDatabase.pruneUsage`), so no flush holds the writer for a scan of every row.
    func pruneStep(now: Timestamp = .now()) -> (keepFrom: UTCDay, from: [UInt8])? {
        let today = UTCDay(now)
        return prune.withLock { prune in
            if prune.day != today.number {
                prune = (today.number, [])
            }
            guard let from = prune.cursor else { return nil }
            return (today.adding(days: 1 - CredsDatabase.usageDaysKept), from)
        }
    }

    /// Where the prune goes on next time; nil when it is done for the day.
    func pruned(through next: [UInt8]?) {
        prune.withLock { $0.cursor = next }
    }

    /// Whether counts or events wait for the store.
    var hasWaiting: Bool { waiting.load(ordering: .acquiring) }

    /// A batch the store did not take: its counts and events wait for the next (the totals never lost them).
    func restore(_ batch: Batch, now: Timestamp = .now()) {
        for row in batch.rows {
            shard(row.key).mutex.withLock { shard in
                var entry = shard.entries[row.key] ?? Entry(lastUsed: now.seconds)
                entry.pending[row.day, default: UsageCounts()].add(row.counts)
                shard.entries[row.key] = entry
                shard.dirty.insert(row.key)
            }
        }
        if !batch.events.isEmpty { events.withLock { $0 = batch.events + $0 } }
        if !batch.isEmpty { waiting.store(true, ordering: .releasing) }
    }

    // MARK: Cluster

    /// Cluster mode: from now on, days stored are remembered until shipped (`takeToShip`).
    func startShipping() {
        toShip.withLock { if $0 == nil { $0 = [] } }
    }

    /// After a batch committed: its days are due to be shipped (cluster mode).
    func committed(_ batch: Batch) {
        guard !batch.rows.isEmpty else { return }
        toShip.withLock { set in
            guard set != nil else { return }
            for row in batch.rows { set?.insert(ShipKey(key: row.key, day: row.day)) }
        }
    }

    /// The days stored since the last call; `putBack` returns them after a failed shipment.
    func takeToShip() -> Set<ShipKey> {
        toShip.withLock { set in
            defer { if set != nil { set = [] } }
            return set ?? []
        }
    }

    func putBack(_ keys: Set<ShipKey>) {
        toShip.withLock { set in set?.formUnion(keys) }
    }

    /// The other hosts' built-in use of `key` in the windows of `use.day` (cluster mode); none at all is kept
    /// as nothing.
    func setOthers(_ key: Key, _ use: WindowUse, now: Timestamp) {
        shard(key).mutex.withLock { shard in
            let nothing = use.dayResolves == 0 && use.dayUnits == 0 && use.monthResolves == 0 && use.monthUnits == 0
            guard var entry = shard.entries[key] ?? (nothing ? nil : Entry(lastUsed: now.seconds)) else { return }
            entry.others = nothing ? nil : use
            shard.entries[key] = entry
        }
    }

    // MARK: Helpers

    private func update(_ key: Key, now: Timestamp, _ body: (inout Entry, UTCDay) -> Void) {
        let today = UTCDay(now)
        shard(key).mutex.withLock { shard in
            shard.withEntry(key, now: now.seconds) { entry in
                body(&entry, today)
                return ((), counted: true)
            }
        }
        waiting.store(true, ordering: .releasing)
    }

    /// A built-in resolve in a day's counts.
    private static func count(_ counts: inout UsageCounts, fallbackReason: String?) {
        counts.builtInResolves = UsageCounts.sum(counts.builtInResolves, 1)
        if let fallbackReason { counts.fallbacks[fallbackReason, default: 0] += 1 }
    }

    private static func count(_ counts: inout UsageCounts, outcome: String, source: CredentialSource, units: Int64) {
        counts.reports[outcome, default: 0] += 1
        if source == .builtIn {
            counts.builtInUnits = UsageCounts.sum(counts.builtInUnits, units)
        } else {
            counts.byoUnits = UsageCounts.sum(counts.byoUnits, units)
        }
    }

    private static func total(_ local: Int64, _ others: Int64?) -> Int64 {
        UsageCounts.sum(local, others ?? 0)
    }

    /// `budget.threshold` events for each of 80 % and 100 % of `max` that going from `used` to `used + amount`
    /// crosses.
    private static func crossings(
        from used: Int64, by amount: Int64, of max: Int64, key: Key, budget: Budget, today: UTCDay, what: String
    ) -> [EventDraft] {
        // ⌈0.8 × max⌉ without an overflow for any max.
        let eighty = max - max / 5
        let after = UsageCounts.sum(used, amount)
        // Runs on every admission: nothing is built unless a threshold is crossed.
        guard max > 0, used < max, after >= eighty else { return [] }
        let thresholds: [(percent: Int, at: Int64)] = [(80, eighty), (100, max)]
        let resetsAt = budget.period.end(of: today).start.rfc3339
        let noun = what == "max_resolves" ? "built-in resolves" : "units reported for built-in use"
        return thresholds.filter { used < $0.at && after >= $0.at }.map { threshold in
            EventDraft(
                type: .budgetThreshold, workspaceId: key.workspaceId, provider: key.provider, connectionId: nil,
                from: nil, to: "\(threshold.percent)%", reason: what,
                detail: "\(after) of \(max) \(noun) this \(budget.period.rawValue) (\(threshold.percent)%); "
                    + "the budget resets at \(resetsAt)")
        }
    }
}
