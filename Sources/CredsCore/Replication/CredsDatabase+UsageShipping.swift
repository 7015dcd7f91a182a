public import CredsProtocol

/// Cluster mode's side of usage (SPEC 12): this host's stored figures go to PostgreSQL, the other hosts' built-in
/// use comes back for the budgets.
extension CredsDatabase {
    /// From now on, usage rows stored are remembered until shipped; the rows of this month already stored are
    /// due at once (those stored just before a stop may never have gone).
    public func startUsageShipping() throws {
        usageLedger.startShipping()
        let monthStart = UTCDay(.now()).monthStart
        var due: Set<UsageLedger.ShipKey> = []
        try environment.read { txn in
            try txn.scan(usage, from: []) { key, _ in
                guard let parts = StoreKeys.usageParts(key), parts.day >= monthStart else { return true }
                due.insert(
                    UsageLedger.ShipKey(
                        key: UsageLedger.Key(workspaceId: parts.workspaceId, provider: parts.provider), day: parts.day))
                return true
            }
        }
        usageLedger.putBack(due)
    }

    /// The rows stored since the last shipment, read as they are stored now.
    public func usageShipment() throws -> UsageShipment {
        let keys = usageLedger.takeToShip()
        guard !keys.isEmpty else { return UsageShipment(rows: [], keys: []) }
        do {
            let rows = try environment.read { txn in
                try keys.map { ship in
                    let stored = try txn.get(usage, StoreKeys.usage(ship.key.workspaceId, ship.key.provider, ship.day))
                    let counts = stored.map(UsageCounts.init(stored:)) ?? UsageCounts()
                    return UsageShipment.Row(
                        workspaceId: ship.key.workspaceId.text, provider: ship.key.provider.text, day: ship.day,
                        counts: counts.stored, builtInResolves: counts.builtInResolves,
                        builtInUnits: counts.builtInUnits, weight: counts.weight)
                }
            }
            return UsageShipment(rows: rows, keys: keys)
        } catch {
            usageLedger.putBack(keys)
            throw error
        }
    }

    /// A shipment the database did not take: its rows go with the next.
    public func usageShipmentFailed(_ shipment: UsageShipment) {
        usageLedger.putBack(shipment.keys)
    }

    /// The other hosts' built-in use of a workspace's provider in the UTC day of `use` and its month.
    public func setOtherHostsUse(workspaceId: String, provider: String, _ use: WindowUse) {
        usageLedger.setOthers(
            UsageLedger.Key(workspaceId: Identifier(stored: workspaceId), provider: Identifier(stored: provider)), use,
            now: .now())
    }
}
