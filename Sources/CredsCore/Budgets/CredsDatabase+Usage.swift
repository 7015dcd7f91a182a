import CredsProtocol
import CredsStore

/// Budgets and this host's usage in the store (SPEC 12).
extension CredsDatabase {
    /// Days of usage kept.
    static let usageDaysKept = 400

    /// The budget of a workspace for a provider; nil when it has none.
    func budget(_ txn: borrowing Transaction, workspaceId: Identifier, provider: Identifier) throws -> Budget? {
        try txn.get(budgets, StoreKeys.budget(workspaceId, provider)).flatMap(Budget.init(stored:))
    }

    /// Stores `budget`, or removes the workspace's budget for the provider when nil.
    func putBudget(_ txn: borrowing Transaction, workspaceId: Identifier, provider: Identifier, _ budget: Budget?)
        throws
    {
        let key = StoreKeys.budget(workspaceId, provider)
        if let budget {
            try txn.put(budgets, key, budget.stored)
        } else {
            _ = try txn.delete(budgets, key)
        }
    }

    /// This host's stored built-in use of the day `today` and of its month.
    func storedUse(_ txn: borrowing Transaction, _ key: UsageLedger.Key, today: UTCDay) throws -> WindowUse {
        var use = WindowUse(day: today)
        let first = StoreKeys.usage(key.workspaceId, key.provider, today.monthStart)
        let last = StoreKeys.usage(key.workspaceId, key.provider, today)
        try txn.scan(usage, from: first) { rowKey, value in
            guard rowKey.lexicographicallyPrecedes(last) || rowKey == last else { return false }
            let counts = UsageCounts(stored: value)
            use.monthResolves = UsageCounts.sum(use.monthResolves, counts.builtInResolves)
            use.monthUnits = UsageCounts.sum(use.monthUnits, counts.builtInUnits)
            if rowKey == last {
                use.dayResolves = counts.builtInResolves
                use.dayUnits = counts.builtInUnits
            }
            return true
        }
        return use
    }

    /// Adds a drained batch of the ledger to the stored days, and appends its events.
    func merge(_ txn: borrowing Transaction, _ batch: UsageLedger.Batch) throws {
        for row in batch.rows {
            let key = StoreKeys.usage(row.key.workspaceId, row.key.provider, row.day)
            var counts = try txn.get(usage, key).map(UsageCounts.init(stored:)) ?? UsageCounts()
            counts.add(row.counts)
            try txn.put(usage, key, counts.stored)
        }
        if !batch.events.isEmpty { _ = try events.append(txn, batch.events) }
    }

    /// A workspace's stored usage from `from` to `to` (both included), optionally of one provider, by provider
    /// and day.
    func usageDays(
        _ txn: borrowing Transaction, workspaceId: Identifier, provider: Identifier?, from: UTCDay, to: UTCDay
    ) throws -> [Identifier: [UTCDay: UsageCounts]] {
        var found: [Identifier: [UTCDay: UsageCounts]] = [:]
        try txn.scan(usage, prefix: StoreKeys.ownerPrefix(workspaceId, provider)) { key, value in
            guard let parts = StoreKeys.usageParts(key), parts.day >= from, parts.day <= to else { return true }
            found[parts.provider, default: [:]][parts.day] = UsageCounts(stored: value)
            return true
        }
        return found
    }

    /// Rows of usage scanned per prune step.
    static let pruneSlice = 10_000

    /// Removes usage of days before `first` among the next `pruneSlice` rows from `start`; returns where the next
    /// step starts, or nil when the scan reached the end.
    func pruneUsage(_ txn: borrowing Transaction, before first: UTCDay, from start: [UInt8]) throws -> [UInt8]? {
        var stale: [[UInt8]] = []
        var scanned = 0
        var next: [UInt8]?
        try txn.scan(usage, from: start) { key, _ in
            guard scanned < Self.pruneSlice else {
                next = key
                return false
            }
            scanned += 1
            if let day = StoreKeys.usageParts(key)?.day, day < first { stale.append(key) }
            return true
        }
        for key in stale { _ = try txn.delete(usage, key) }
        return next
    }
}
