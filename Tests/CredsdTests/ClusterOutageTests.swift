import CredsCluster
import CredsProtocol
import Foundation
import Testing

/// Cluster mode (SPEC 10) when PostgreSQL goes away: resolves keep answering from the replica, writes are refused
/// at once, and every host catches up when it is back.
@Suite("cluster mode: the database stopped, frozen or rewound", .serialized)
struct ClusterOutageTests {
    private static let params: [String: JSONValue] = ["workspaceId": "ws1", "provider": "vercel-ai-gateway"]

    private static func resolveParams(_ grant: String) -> [String: JSONValue] {
        params.merging(["grant": .string(grant)]) { $1 }
    }

    /// Two hosts with one connection and a grant both resolve.
    private static func cluster() throws -> (ClusterFixture, grant: String) {
        let cluster = try ClusterFixture(hosts: 2)
        try cluster.hosts[0].addWriter()
        try cluster.hosts[0].upsert(provider: "vercel-ai-gateway", payload: ["apiKey": "vck_outage"])
        let grant = try cluster.hosts[0].grant()
        try eventually { try cluster.hosts[1].resolveCall("resolve", resolveParams(grant)) }
        return (cluster, grant)
    }

    private static func write(_ host: DaemonFixture, name: String) throws {
        try host.adminCall(
            "connections.upsert",
            [
                "workspaceId": "ws1", "provider": "fal", "displayName": .string(name),
                "credentialPayload": ["apiKey": "fal_outage_key"], "actor": "alice",
            ])
    }

    /// Waits (up to 60 s: reconnects back off) until `host` is healthy; says what it last saw when it is not.
    private static func awaitHealthy(_ host: DaemonFixture, sourceLocation: SourceLocation = #_sourceLocation) throws {
        var last: JSONValue?
        do {
            try eventually(within: 60) {
                last = try host.adminCall("health")
                guard last?["status"] == "ok" else { throw Pending() }
            }
        } catch {
            Issue.record(
                "never healthy: \(String(describing: last))\n\(host.daemonLog.suffix(3000))",
                sourceLocation: sourceLocation)
            throw error
        }
    }

    /// Seconds `body` took.
    private static func timed(_ body: () throws -> Void) rethrows -> Double {
        let start = Date()
        try body()
        return Date().timeIntervalSince(start)
    }

    @Test(
        "database stopped: every resolve answered, writes refused at once, every host converges after",
        arguments: ["fast", "immediate"])
    func stopped(mode: String) throws {
        let (cluster, grant) = try Self.cluster()
        let (one, two) = (cluster.hosts[0], cluster.hosts[1])
        let loops = [ResolveLoop(one, Self.resolveParams(grant)), ResolveLoop(two, Self.resolveParams(grant))]
        // A failed expectation must not leave the loops (and with them the daemons) running.
        defer { for loop in loops { _ = loop.stop() } }
        try cluster.server.stop(mode: mode)
        // The hosts notice (the connection closes), say so in health, and refuse writes without waiting.
        for host in [one, two] {
            try awaitClusterState(host, "disconnected")
        }
        let health = try two.adminCall("health")
        #expect(health["status"] == "degraded")
        #expect(health["cluster"]?["lastContactAt"]?.stringValue != nil)
        let elapsed = Self.timed {
            #expect(reason { try Self.write(two, name: "during") } == "store_unavailable")
        }
        #expect(elapsed < 0.5, "a write during the outage took \(elapsed) s")
        usleep(500_000)
        try cluster.server.startAgain()
        for host in [one, two] {
            try Self.awaitHealthy(host)
        }
        try Self.write(two, name: "after")
        try eventually {
            let list = try one.adminCall("connections.list", ["workspaceId": "ws1", "actor": "alice"])
            guard list["connections"]?.arrayValue?.count == 2 else { throw Pending() }
        }
        for loop in loops {
            let (answered, refused) = loop.stop()
            #expect(refused.isEmpty, "\(refused.prefix(3))")
            #expect(answered > 50)
        }
    }

    @Test("database frozen (SIGSTOP): resolves answered, writes refused within the query timeout, then at once")
    func frozen() throws {
        let (cluster, grant) = try Self.cluster()
        let (one, two) = (cluster.hosts[0], cluster.hosts[1])
        let loops = [ResolveLoop(one, Self.resolveParams(grant)), ResolveLoop(two, Self.resolveParams(grant))]
        // A failed expectation must not leave the loops (and with them the daemons) running.
        defer { for loop in loops { _ = loop.stop() } }
        cluster.server.signalAll(SIGSTOP)
        defer { cluster.server.signalAll(SIGCONT) }
        let first = Self.timed {
            #expect(reason { try Self.write(one, name: "frozen") } == "store_unavailable")
        }
        #expect(first < 7, "the first write during the freeze took \(first) s")
        let second = Self.timed {
            #expect(reason { try Self.write(one, name: "frozen-again") } == "store_unavailable")
        }
        #expect(second < 0.5, "a write after the freeze was noticed took \(second) s")
        try awaitClusterState(two, "disconnected")
        cluster.server.signalAll(SIGCONT)
        for host in [one, two] {
            try Self.awaitHealthy(host)
        }
        try Self.write(one, name: "thawed")
        try eventually {
            let list = try two.adminCall("connections.list", ["workspaceId": "ws1", "actor": "alice"])
            guard list["connections"]?.arrayValue?.count == 2 else { throw Pending() }
        }
        for loop in loops {
            let (answered, refused) = loop.stop()
            #expect(refused.isEmpty, "\(refused.prefix(3))")
            #expect(answered > 50)
        }
    }

    @Test("a feed read that never answers (its table locked): the host gives the session up, then follows again")
    func feedReadHangs() throws {
        let (cluster, grant) = try Self.cluster()
        let two = cluster.hosts[1]
        // The lock makes every read of the feed wait, on an open connection to a database that answers everything
        // else: the replica's watchdog closes the connection, and the read in flight must not hold the session.
        let held = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            _ = try? cluster.server.psql(
                "BEGIN; LOCK TABLE credsd_changes IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(14); COMMIT;")
            held.signal()
        }
        try awaitClusterState(two, "disconnected")
        #expect(try two.resolveCall("resolve", Self.resolveParams(grant))["credential"] == ["apiKey": "vck_outage"])
        held.wait()
        // Both hosts read the feed, and both lost their sessions to the lock.
        for host in cluster.hosts {
            try Self.awaitHealthy(host)
        }
        try Self.write(cluster.hosts[0], name: "after the lock")
        try eventually {
            let list = try two.adminCall("connections.list", ["workspaceId": "ws1", "actor": "alice"])
            guard list["connections"]?.arrayValue?.count == 2 else { throw Pending() }
        }
    }

    @Test("maxStalenessSeconds: past it without contact resolve answers store_unavailable; in contact, it answers")
    func staleness() throws {
        let cluster = try ClusterFixture(hosts: 0)
        let server = cluster.server
        let host = try DaemonFixture(
            mode: .process,
            configExtra: ClusterFixture.section(server, hostId: "stale", pollSeconds: 1) + "\nmaxStalenessSeconds = 2",
            keyFile: cluster.keyFile)
        try host.addWriter()
        try host.upsert(provider: "vercel-ai-gateway", payload: ["apiKey": "vck_stale"])
        let grant = try host.grant()
        try host.resolveCall("resolve", Self.resolveParams(grant))
        try server.stop(mode: "fast")
        // Within the limit it still answers; past it, it refuses.
        try host.resolveCall("resolve", Self.resolveParams(grant))
        try eventually(within: 30) {
            guard reason({ try host.resolveCall("resolve", Self.resolveParams(grant)) }) == "store_unavailable" else {
                throw Pending()
            }
        }
        try server.startAgain()
        try eventually(within: 60) { try host.resolveCall("resolve", Self.resolveParams(grant)) }
    }

    @Test("SIGTERM while catching up after a reconnect: the host stops cleanly, within the replica's 5 s bound")
    func stopWhileCatchingUp() throws {
        let (cluster, _) = try Self.cluster()
        let (one, two) = (cluster.hosts[0], cluster.hosts[1])
        try cluster.server.stop(mode: "fast")
        usleep(1_500_000)
        try cluster.server.startAgain()
        try eventually(within: 60) {
            guard try one.adminCall("health")["status"] == "ok" else { throw Pending() }
        }
        // Writes on host 1 all the while: host 2 is in a catch-up pass (woken by each notification) most of the
        // time it is stopped; stopped and started five times.
        let writing = ResolveLoop(
            one, ["workspaceId": "ws1", "provider": "fal", "mode": "byo", "actor": "alice"], method: "policy.set")
        defer { _ = writing.stop() }
        for round in 0..<5 {
            try eventually(within: 60) {
                guard try two.adminCall("health")["status"] == "ok" else { throw Pending() }
            }
            usleep(useconds_t(20_000 * round))
            let elapsed = try Self.timed { #expect(two.stop() == 0, "round \(round)") }
            #expect(elapsed < 8, "round \(round): stopping took \(elapsed) s")
            try two.start()
        }
        #expect(two.daemonLog.components(separatedBy: "credsd stopped").count == 6)
    }

    @Test("a database at an older schema is refused until cluster init: resolves served, writes store_unavailable")
    func olderSchema() throws {
        let cluster = try ClusterFixture(hosts: 1)
        let host = cluster.hosts[0]
        try host.addWriter()
        try cluster.server.psql("DELETE FROM credsd_schema WHERE version = (SELECT max(version) FROM credsd_schema)")
        try host.restart()
        #expect(host.waitForLog("run credsd cluster init"))
        #expect(reason { try Self.write(host, name: "old schema") } == "store_unavailable")
        #expect(try host.adminCall("health")["status"] == "degraded")
        try cluster.server.psql(
            "INSERT INTO credsd_schema (version, name, applied_by) VALUES (\(ClusterSchema.currentVersion), 'back', 'test')"
        )
        try eventually(within: 60) { try Self.write(host, name: "current schema") }
    }

    /// The value of the unlabelled sample `name` in Prometheus text.
    private static func sample(_ text: String, _ name: String) -> Double? {
        text.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Double($0.split(separator: " ")[1]) }
    }

    @Test("metrics: the feed position, lag and contact, reconnects and resyncs")
    func metrics() throws {
        let port = HTTPGet.freePort()
        let cluster = try ClusterFixture(hosts: 1, clusterExtra: "[metrics]\nlisten = \"127.0.0.1:\(port)\"\n")
        let host = cluster.hosts[0]
        try host.addWriter()
        try Self.write(host, name: "metrics")
        // The host answered its own write at once; its cursor follows when the feed brings the write back.
        var body = try eventually {
            let body = try HTTPGet.get(port: port, path: "/metrics").body
            guard Self.sample(body, "credsd_cluster_seq") ?? 0 >= 2 else { throw Pending() }
            return body
        }
        #expect(Self.sample(body, "credsd_cluster_connected") == 1)
        #expect(Self.sample(body, "credsd_cluster_lag_seconds") == 0)
        #expect(Self.sample(body, "credsd_cluster_resyncs_total") == 1)
        try cluster.server.stop(mode: "fast")
        try eventually {
            body = try HTTPGet.get(port: port, path: "/metrics").body
            guard Self.sample(body, "credsd_cluster_connected") == 0 else { throw Pending() }
        }
        #expect(Self.sample(body, "credsd_cluster_reconnects_total") ?? 0 >= 1)
        try cluster.server.startAgain()
        try eventually(within: 60) {
            body = try HTTPGet.get(port: port, path: "/metrics").body
            guard Self.sample(body, "credsd_cluster_connected") == 1 else { throw Pending() }
        }
        #expect(!body.contains(cluster.server.password))
    }

    @Test("another epoch, or a feed head behind the replica (a restore): the replica resyncs to the database")
    func rewound() throws {
        let (cluster, grant) = try Self.cluster()
        let two = cluster.hosts[1]
        try cluster.server.psql("UPDATE credsd_feed_head SET epoch = gen_random_uuid()")
        #expect(two.waitForLog("the database's epoch changed"))
        try two.resolveCall("resolve", Self.resolveParams(grant))
        // A database restored to before the connection: the head goes back, the connection is gone.
        try cluster.server.psql(
            """
            DELETE FROM credsd_records WHERE entity = 'connection';
            DELETE FROM credsd_changes WHERE seq > 1;
            UPDATE credsd_feed_head SET seq = 1;
            """)
        try eventually {
            guard reason({ try two.resolveCall("resolve", Self.resolveParams(grant)) }) == "no_credential" else {
                throw Pending()
            }
        }
        #expect(two.daemonLog.contains("is behind this replica's"))
    }

    @Test("a hole in the feed makes the replica resync, never skip")
    func hole() throws {
        let (cluster, _) = try Self.cluster()
        let two = cluster.hosts[1]
        // A number with no change behind it (as a lost row would leave).
        try cluster.server.psql("UPDATE credsd_feed_head SET seq = seq + 1")
        try cluster.server.psql("NOTIFY credsd_changes, '0'")
        #expect(two.waitForLog("a hole in the feed"))
        let health = try eventually {
            let health = try two.adminCall("health")
            guard health["status"] == "ok" else { throw Pending() }
            return health
        }
        let head = try cluster.server.psql("SELECT seq FROM credsd_feed_head")
        #expect(health["cluster"]?["seq"] == .int(Int64(head) ?? -1))
    }
}
