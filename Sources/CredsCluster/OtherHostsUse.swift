import CredsCore
import CredsProtocol

/// The other hosts' built-in use of the current month, by workspace, provider, host and day, as the usage
/// exchange read it (SPEC 12): the budgets' share of what this host did not count itself.
struct OtherHostsUse: Sendable {
    struct Key: Hashable, Sendable {
        let workspaceId: String
        let provider: String
    }

    private var rows: [Key: [String: [UTCDay: (resolves: Int64, units: Int64)]]] = [:]

    /// Takes the rows read; returns the keys they changed.
    mutating func apply(_ found: [HostUsage], today: UTCDay) -> Set<Key> {
        let monthStart = today.monthStart
        var touched: Set<Key> = []
        for row in found where row.day >= monthStart {
            let key = Key(workspaceId: row.workspaceId, provider: row.provider)
            rows[key, default: [:]][row.hostId, default: [:]][row.day] = (row.builtInResolves, row.builtInUnits)
            touched.insert(key)
        }
        return touched
    }

    /// Forgets days before the month of `today`; returns the keys that had them.
    mutating func forget(before today: UTCDay) -> Set<Key> {
        let monthStart = today.monthStart
        var touched: Set<Key> = []
        for (key, hosts) in rows {
            var kept: [String: [UTCDay: (resolves: Int64, units: Int64)]] = [:]
            var removed = false
            for (host, days) in hosts {
                let recent = days.filter { $0.key >= monthStart }
                removed = removed || recent.count != days.count
                if !recent.isEmpty { kept[host] = recent }
            }
            if removed { touched.insert(key) }
            rows[key] = kept.isEmpty ? nil : kept
        }
        return touched
    }

    /// The sums over the other hosts of `key`'s use on `today` and in its month.
    func sums(_ key: Key, today: UTCDay) -> WindowUse {
        var sums = WindowUse(day: today)
        let monthStart = today.monthStart
        for days in (rows[key] ?? [:]).values {
            for (day, use) in days where day >= monthStart && day <= today {
                if day == today {
                    sums.add(resolves: use.resolves, units: use.units)
                } else {
                    sums.addToMonth(resolves: use.resolves, units: use.units)
                }
            }
        }
        return sums
    }
}
