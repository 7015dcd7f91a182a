import CredsProtocol
import Foundation
import Testing

/// `audit.list` in cluster mode (SPEC 10): every host's shipped entries plus this host's unshipped ones, each
/// naming its host, filtered by `hostId` and `workspaceId`, paged by a number that is on every host's chain. And
/// `audit.verify` and shipping against a database that lost entries, or holds some it should not.
@Suite("cluster mode: audit.list and audit.verify across hosts", .serialized)
struct ClusterAuditListTests {
    /// An entry's place in the merged listing.
    private struct Place: Hashable, Comparable {
        let seq: Int64
        let hostId: String

        static func < (left: Place, right: Place) -> Bool { (left.seq, left.hostId) < (right.seq, right.hostId) }
    }

    private static func places(_ answer: JSONValue) -> [Place] {
        (answer["entries"]?.arrayValue ?? []).map {
            Place(seq: $0["seq"]?.intValue ?? -1, hostId: $0["hostId"]?.stringValue ?? "")
        }
    }

    /// Pages through `audit.list` on `host` with `params` and `limit`; every page's places.
    private static func pages(_ host: DaemonFixture, _ params: [String: JSONValue], limit: Int64) throws -> [[Place]] {
        var pages: [[Place]] = []
        var since: Int64 = 0
        while pages.count < 1000 {
            var call = params
            call["since"] = .int(since)
            call["limit"] = .int(limit)
            let answer = try host.adminCall("audit.list", call)
            let page = places(answer)
            if page.isEmpty { break }
            pages.append(page)
            since = answer["nextSince"]?.intValue ?? -1
        }
        return pages
    }

    @Test("every host's entries, each naming its host; by hostId from any host; pages end at a whole number")
    func acrossHosts() throws {
        let cluster = try ClusterFixture(hosts: 3)
        let hosts = cluster.hosts
        let ids = ["host-1", "host-2", "host-3"]
        try hosts[0].addWriter()
        try hosts[0].addWriter(workspace: "ws2")
        try eventually {
            for host in hosts {
                guard
                    try host.adminCall("members.list", ["workspaceId": "ws2"])["members"]?
                        .arrayValue?.count == 1
                else { throw Pending() }
            }
        }
        // Every host writes in ws1 and ws2, so every number is on all three chains.
        for (index, host) in hosts.enumerated() {
            for workspace in ["ws1", "ws2"] {
                try host.upsert(
                    provider: "fal", payload: ["apiKey": .string("fal_list_\(index)_\(workspace)")],
                    workspace: workspace, name: "k\(index)")
            }
        }
        // Shipped: each host's central head is where its own chain is.
        var chains: [String: [Place]] = [:]
        try eventually {
            for (index, host) in hosts.enumerated() {
                let own = Self.places(try host.adminCall("audit.list", ["hostId": .string(ids[index]), "limit": 1000]))
                let shipped = try cluster.server.psql(
                    "SELECT coalesce(max(seq), 0) FROM credsd_audit WHERE host_id = '\(ids[index])'")
                guard let last = own.last, shipped == "\(last.seq)" else { throw Pending() }
                chains[ids[index]] = own
            }
        }
        for (id, chain) in chains {
            #expect(chain.allSatisfy { $0.hostId == id }, "\(id): \(chain.prefix(3))")
            #expect(chain.map(\.seq) == Array(1...Int64(chain.count)), "\(id) is dense")
        }
        // Another host's chain, read from PostgreSQL on each of the others, is the chain that host holds.
        for (index, id) in ids.enumerated() {
            for other in hosts.indices where other != index {
                let seen = Self.places(
                    try hosts[other].adminCall("audit.list", ["hostId": .string(id), "limit": 1000]))
                #expect(seen == chains[id], "host-\(other + 1) listing \(id)")
            }
        }
        // Without hostId: every host's entries, in (seq, hostId) order, whole entries as each host stores them.
        let everything = try hosts[1].adminCall("audit.list", ["limit": 1000])
        let merged = Self.places(everything)
        let expected = chains.values.flatMap { $0 }.sorted()
        #expect(merged == expected)
        let mine = try hosts[1].adminCall("audit.list", ["hostId": "host-2", "limit": 1000])["entries"]
        let fromHostOne = try hosts[0].adminCall("audit.list", ["hostId": "host-2", "limit": 1000])["entries"]
        #expect(mine?.arrayValue?.map { $0["hash"] } == fromHostOne?.arrayValue?.map { $0["hash"] })
        #expect(fromHostOne?.arrayValue?.first?["method"]?.stringValue != nil)
        // Paged with a small limit: no entry twice, none missed, and each page ends after the last host with its
        // last number. Every number is on all three hosts, so a limit of 2 cannot hold one number: it comes whole.
        for limit: Int64 in [2, 4, 5, 1000] {
            let pages = try Self.pages(hosts[2], [:], limit: limit)
            #expect(pages.flatMap { $0 } == expected, "limit \(limit)")
            for (number, page) in pages.enumerated() where number + 1 < pages.count {
                let next = pages[number + 1]
                #expect(page.last?.seq != next.first?.seq, "limit \(limit): a number split across pages")
                #expect(limit < 3 || page.count <= Int(limit), "limit \(limit): a page of \(page.count)")
            }
        }
        // A workspace filter applies to every host's entries.
        let ws2 = try hosts[0].adminCall("audit.list", ["workspaceId": "ws2", "limit": 1000])["entries"]?.arrayValue
        #expect(Set(ws2?.compactMap { $0["hostId"]?.stringValue } ?? []) == Set(ids))
        #expect(ws2?.allSatisfy { $0["workspaceId"] == "ws2" } == true)
        let ws2OnHostThree = try hosts[0].adminCall(
            "audit.list", ["workspaceId": "ws2", "hostId": "host-3", "limit": 1000])["entries"]?.arrayValue
        #expect(ws2OnHostThree?.count == 1)
        #expect(ws2OnHostThree?.first?["method"] == "connections.upsert")
        // PostgreSQL's reading of each entry's workspace agrees with credsd's (verify compares them all).
        #expect(try hosts[2].adminCall("audit.verify")["ok"] == true)
        #expect(
            try cluster.server.psql(
                "SELECT string_agg(DISTINCT workspace_id, ',') FROM credsd_audit"
            )
                == "ws1,ws2")
        // A host no one has heard of has no entries; a hostId that is not an identifier is refused.
        #expect(Self.places(try hosts[0].adminCall("audit.list", ["hostId": "host-9"])).isEmpty)
        #expect(reason { try hosts[0].adminCall("audit.list", ["hostId": "a b"]) } == "invalid_params")
        // With the database away: this host's own chain still lists, anything that needs the database is
        // store_unavailable (never a partial list).
        try cluster.server.stop(mode: "fast")
        try awaitClusterState(hosts[0], "disconnected")
        #expect(Self.places(try hosts[0].adminCall("audit.list", ["hostId": "host-1", "limit": 1000])).count > 0)
        #expect(reason { try hosts[0].adminCall("audit.list") } == "store_unavailable")
        #expect(reason { try hosts[0].adminCall("audit.list", ["hostId": "host-2"]) } == "store_unavailable")
    }

    @Test("a single host refuses hostId: it has no cluster")
    func singleHost() throws {
        let daemon = try DaemonFixture()
        try daemon.addWriter()
        #expect(reason { try daemon.adminCall("audit.list", ["hostId": "host-1"]) } == "invalid_params")
        let entries = try daemon.adminCall("audit.list")["entries"]?.arrayValue ?? []
        #expect(entries.first?["method"] == "members.set")
        #expect(entries.allSatisfy { $0["hostId"] == nil })
    }

    /// Waits until the database holds `host`'s chain as far as the host has written it.
    private static func awaitShipped(_ cluster: ClusterFixture, _ index: Int) throws {
        let id = "host-\(index + 1)"
        try eventually(within: 30) {
            let own = places(try cluster.hosts[index].adminCall("audit.list", ["hostId": .string(id), "limit": 1000]))
            let shipped = try cluster.server.psql(
                "SELECT count(*) || ' ' || coalesce(max(seq), 0) FROM credsd_audit WHERE host_id = '\(id)'")
            guard let last = own.last, shipped == "\(own.count) \(last.seq)" else { throw Pending() }
        }
    }

    private static func verdict(_ host: DaemonFixture, on id: String) throws -> JSONValue? {
        try host.adminCall("audit.verify")["hosts"]?.arrayValue?.first { $0["hostId"]?.stringValue == id }
    }

    private static func write(_ host: DaemonFixture, _ name: String) throws {
        try host.upsert(provider: "fal", payload: ["apiKey": .string("fal_verify_\(name)")], name: name)
    }

    @Test("a database that lost entries: verify names them, and a host ships again what the database lost of its chain")
    func lostEntries() throws {
        let cluster = try ClusterFixture(hosts: 2)
        let (one, two) = (cluster.hosts[0], cluster.hosts[1])
        let server = cluster.server
        try one.addWriter()
        try awaitMembers(two)
        for index in 0..<3 {
            try Self.write(one, "one-\(index)")
            try Self.write(two, "two-\(index)")
        }
        try Self.awaitShipped(cluster, 0)
        try Self.awaitShipped(cluster, 1)
        #expect(try one.adminCall("audit.verify")["ok"] == true)
        // host-2's first two entries removed in the database: its chain no longer starts at 1 and no gap was
        // reported. Both hosts see it.
        try server.psql("DELETE FROM credsd_audit WHERE host_id = 'host-2' AND seq <= 2")
        #expect(try Self.verdict(one, on: "host-2")?["ok"] == false)
        #expect(try Self.verdict(two, on: "host-2")?["ok"] == false)
        // host-1's last entry removed and its head moved back over it: the chain left is consistent, so another
        // host cannot tell; host-1 can (it shipped that entry), and its next shipment ships it again.
        let last = try server.psql("SELECT max(seq) FROM credsd_audit WHERE host_id = 'host-1'")
        try server.psql(
            """
            DELETE FROM credsd_audit WHERE host_id = 'host-1' AND seq = \(last);
            UPDATE credsd_audit_heads SET seq = \(last) - 1,
                hash = (SELECT hash FROM credsd_audit WHERE host_id = 'host-1' AND seq = \(last) - 1)
              WHERE host_id = 'host-1'
            """)
        #expect(try Self.verdict(two, on: "host-1")?["ok"] == true)
        let own = try Self.verdict(one, on: "host-1")
        #expect(own?["ok"] == false)
        #expect(own?["firstBroken"]?.intValue.map(String.init) == last)
        try Self.write(one, "after-tail")
        try Self.awaitShipped(cluster, 0)
        #expect(try Self.verdict(one, on: "host-1")?["ok"] == true)
        #expect(one.waitForLog("holds less of this host's audit chain than it shipped"))
        // host-1 erased from the database, rows and head: it names itself, and ships its whole chain again.
        try server.psql(
            "DELETE FROM credsd_audit WHERE host_id = 'host-1'; DELETE FROM credsd_audit_heads WHERE host_id = 'host-1'"
        )
        #expect(try Self.verdict(one, on: "host-1")?["ok"] == false)
        try Self.write(one, "after-erase")
        try Self.awaitShipped(cluster, 0)
        #expect(try Self.verdict(one, on: "host-1")?["ok"] == true)
        #expect(try Self.verdict(two, on: "host-1")?["ok"] == true)
        // Its head deleted with its rows left in place: the next shipment is refused, nothing is overwritten, and
        // health says why.
        try server.psql("DELETE FROM credsd_audit_heads WHERE host_id = 'host-1'")
        let rows = try server.psql("SELECT count(*) FROM credsd_audit WHERE host_id = 'host-1'")
        try Self.write(one, "after-head")
        try eventually {
            let problems = try one.adminCall("health")["problems"]?.arrayValue ?? []
            guard problems.contains(where: { $0.stringValue?.contains("beyond its head") == true }) else {
                throw Pending()
            }
        }
        #expect(try server.psql("SELECT count(*) FROM credsd_audit WHERE host_id = 'host-1'") == rows)
    }

    @Test("an entry on the host that cannot be read stops its shipping before it, and health says so")
    func unreadableLocalEntry() throws {
        let cluster = try ClusterFixture(hosts: 1)
        let one = cluster.hosts[0]
        try one.addWriter()
        try Self.awaitShipped(cluster, 0)
        // A write refused while the database is away is audited here, not shipped.
        try cluster.server.stop(mode: "fast")
        try awaitClusterState(one, "disconnected")
        #expect(reason { try Self.write(one, "refused") } == "store_unavailable")
        // The refusal's entry is written just after its answer: wait for it.
        let unshipped = try eventually {
            let entries = try one.adminCall("audit.list", ["hostId": "host-1", "limit": 1000])["entries"]?.arrayValue
            guard let last = entries?.last, last["outcome"] == "store_unavailable", let seq = last["seq"]?.intValue
            else { throw Pending() }
            return seq
        }
        _ = one.stop()
        let surgery = try StoreSurgery(dataDir: one.dataDir)
        try surgery.put("audit", StoreSurgery.auditKey(UInt64(unshipped)), Array("not an entry".utf8))
        surgery.close()
        // The database first, so the host does not start in a reconnect backoff.
        try cluster.server.startAgain()
        try one.start()
        do {
            try eventually(within: 40) {
                let problems = try one.adminCall("health")["problems"]?.arrayValue ?? []
                guard problems.contains(where: { $0.stringValue?.contains("entry \(unshipped) on this host") == true })
                else { throw Pending() }
            }
        } catch {
            // Seen once under the full suite's load and never alone: say what the host saw.
            let health = (try? one.adminCall("health")).map { String(decoding: $0.serialized(), as: UTF8.self) }
            Issue.record("health never named entry \(unshipped): \(health ?? "-")\n\(one.daemonLog.suffix(4000))")
            throw error
        }
        #expect(
            try cluster.server.psql("SELECT coalesce(max(seq), 0) FROM credsd_audit WHERE host_id = 'host-1'")
                == "\(unshipped - 1)")
    }
}
