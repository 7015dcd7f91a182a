import CredsCrypto
import CredsProtocol
import Synchronization

/// Checks the audit chains every host shipped (SPEC 10, `audit.verify` in cluster mode), one row at a time as they
/// stream in: each entry's hash covers it, its number and link agree with the row, it links to the entry before;
/// each host ends at its head; no more jumps than the head counted as gaps (a jump the host did not report is an
/// entry removed in the database); and this host's shipped entries are the ones it still holds.
final class ShippedChainVerifier: Sendable {
    struct HostOutcome {
        var checked = 0
        var firstBroken: UInt64?
        var jumps: Int64 = 0
        var last: (seq: UInt64, hash: [UInt8])?
    }

    static let zeroHash = [UInt8](repeating: 0, count: 32)

    private let hosts = Mutex<[String: HostOutcome]>([:])
    /// This host's shipped entries' hashes, to compare with what it holds.
    private let own = Mutex<[UInt64: [UInt8]]>([:])
    let hostId: String

    init(hostId: String) {
        self.hostId = hostId
    }

    func visit(_ row: ShippedAuditRow) {
        let decoded = AuditLog.decode(row.bytes)
        hosts.withLock { hosts in
            var outcome = hosts[row.hostId] ?? HostOutcome()
            defer { hosts[row.hostId] = outcome }
            guard outcome.firstBroken == nil else { return }
            outcome.checked += 1
            guard let (entry, intact) = decoded, intact, entry.seq == row.seq,
                Hex.decode(entry.hash) == row.hash, Hex.decode(entry.prevHash) == row.prevHash,
                entry.workspaceId == row.workspaceId
            else {
                outcome.firstBroken = row.seq
                return
            }
            if let last = outcome.last {
                if row.seq == last.seq &+ 1 {
                    if row.prevHash != last.hash { outcome.firstBroken = row.seq }
                } else {
                    outcome.jumps += 1
                }
            } else if row.seq == 1 {
                // A chain's first entry links to nothing.
                if row.prevHash != Self.zeroHash { outcome.firstBroken = row.seq }
            } else {
                // Not the chain's start: entries before it were trimmed before they were shipped (a gap the host
                // reported), or removed from the database.
                outcome.jumps += 1
            }
            outcome.last = (row.seq, row.hash)
        }
        if row.hostId == hostId { own.withLock { $0[row.seq] = row.hash } }
    }

    /// The outcome per host, given the heads and this host's own entries (`localHash(seq)`: nil when trimmed), and
    /// the numbers of this host's entries it holds and has shipped (`ownShipped`): each must be in the database.
    func finish(
        heads: [String: ShippedAuditHead],
        ownShipped: ClosedRange<UInt64>?,
        localHash: (UInt64) -> [UInt8]?
    ) -> [String: HostOutcome] {
        var outcomes = hosts.withLock { $0 }
        for (host, head) in heads {
            var outcome = outcomes[host] ?? HostOutcome()
            if outcome.firstBroken == nil {
                if outcome.last?.seq != head.seq || outcome.last?.hash != head.hash {
                    outcome.firstBroken = outcome.last?.seq ?? head.seq
                } else if outcome.jumps > head.gaps {
                    outcome.firstBroken = outcome.last?.seq
                }
            }
            outcomes[host] = outcome
        }
        for (host, outcome) in outcomes where heads[host] == nil && outcome.checked > 0 && outcome.firstBroken == nil {
            // Entries without a head: written around shipping.
            outcomes[host]?.firstBroken = outcome.last?.seq
        }
        let shipped = own.withLock { $0 }
        if let ownShipped, outcomes[hostId] == nil {
            // This host shipped entries and the database holds none of them, nor its head.
            outcomes[hostId] = HostOutcome(firstBroken: ownShipped.lowerBound)
        }
        if var mine = outcomes[hostId], mine.firstBroken == nil {
            for (seq, hash) in shipped.sorted(by: { $0.key < $1.key }) {
                if let local = localHash(seq), local != hash {
                    mine.firstBroken = seq
                    break
                }
            }
            // Every entry this host shipped and still holds is in the database (one removed there, with the head
            // moved back over it, leaves no jump to count).
            if mine.firstBroken == nil, let ownShipped, let missing = ownShipped.first(where: { shipped[$0] == nil }) {
                mine.firstBroken = missing
            }
            outcomes[hostId] = mine
        }
        return outcomes
    }
}
