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
                Hex.decode(entry.hash) == row.hash, Hex.decode(entry.prevHash) == row.prevHash
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
            }
            outcome.last = (row.seq, row.hash)
        }
        if row.hostId == hostId { own.withLock { $0[row.seq] = row.hash } }
    }

    /// The outcome per host, given the heads and this host's own entries (`localHash(seq)`: nil when trimmed).
    func finish(heads: [String: ShippedAuditHead], localHash: (UInt64) -> [UInt8]?) -> [String: HostOutcome] {
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
        if var mine = outcomes[hostId], mine.firstBroken == nil {
            for (seq, hash) in own.withLock({ $0 }).sorted(by: { $0.key < $1.key }) {
                if let local = localHash(seq), local != hash {
                    mine.firstBroken = seq
                    break
                }
            }
            outcomes[hostId] = mine
        }
        return outcomes
    }
}
