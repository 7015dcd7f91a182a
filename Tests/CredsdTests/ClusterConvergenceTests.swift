import CredsCrypto
import CredsProtocol
import Foundation
import Testing

/// Cluster mode (SPEC 10): how hosts converge, resync and recover, and what PostgreSQL holds.
@Suite("cluster mode: convergence, resync, crashes, what the database holds", .serialized)
struct ClusterConvergenceTests {

    private static func upsert(_ host: DaemonFixture, name: String, key: String) throws -> String {
        host.remember(key)
        let result = try host.adminCall(
            "connections.upsert",
            [
                "workspaceId": "ws1", "provider": "fal", "displayName": .string(name),
                "credentialPayload": ["apiKey": .string(key)], "actor": "alice",
            ])
        return result["connection"]?["id"]?.stringValue ?? ""
    }

    private static func connectionCount(_ host: DaemonFixture) throws -> Int {
        try host.adminCall("connections.list", ["workspaceId": "ws1", "provider": "fal", "actor": "alice"])[
            "connections"]?.arrayValue?.count ?? -1
    }

    private static func percentile(_ sorted: [Double], _ fraction: Double) -> Double {
        sorted[min(sorted.count - 1, Int(Double(sorted.count) * fraction))]
    }

    @Test("propagation of 200 writes across 3 hosts (figures printed), each resolvable everywhere")
    func propagation() throws {
        let cluster = try ClusterFixture(hosts: 3)
        try cluster.hosts[0].addWriter()
        let grant = try cluster.hosts[0].grant()
        for host in cluster.hosts {
            try eventually { guard try Self.connectionCount(host) == 0 else { throw Pending() } }
        }
        let clients = try cluster.hosts.map { try $0.resolver() }
        var delays: [Double] = []
        for index in 0..<200 {
            let writer = index % 3
            let id = try Self.upsert(cluster.hosts[writer], name: "p\(index)", key: "fal_propagation_\(index)")
            let written = Date()
            for other in 0..<3 where other != writer {
                try eventually {
                    _ = try clients[other].call(
                        "resolve",
                        ["workspaceId": "ws1", "provider": "fal", "connectionId": .string(id), "grant": .string(grant)])
                }
            }
            delays.append(Date().timeIntervalSince(written) * 1000)
        }
        delays.sort()
        print(
            String(
                format: "cluster propagation, 200 writes on 3 hosts: p50 %.1f ms, p99 %.1f ms, max %.1f ms",
                Self.percentile(delays, 0.5), Self.percentile(delays, 0.99), delays.last ?? 0))
        #expect((delays.last ?? 0) < 5_000)
    }

    @Test("4 writers on 3 hosts: every host ends with every connection, the feed has no hole")
    func fourWriters() throws {
        let cluster = try ClusterFixture(hosts: 3)
        try cluster.hosts[0].addWriter()
        for host in cluster.hosts {
            try awaitMembers(host)
        }
        let failures = Failures()
        DispatchQueue.concurrentPerform(iterations: 4) { writer in
            for index in 0..<40 {
                do {
                    _ = try Self.upsert(
                        cluster.hosts[(writer + index) % 3], name: "w\(writer)-\(index)", key: "fal_w\(writer)_\(index)"
                    )
                } catch {
                    failures.add("\(error)")
                }
            }
        }
        #expect(failures.all.isEmpty, "\(failures.all.prefix(3))")
        for host in cluster.hosts {
            try eventually { guard try Self.connectionCount(host) == 160 else { throw Pending() } }
        }
        let feed = try cluster.server.psql("SELECT count(*) || ' ' || min(seq) || ' ' || max(seq) FROM credsd_changes")
        let head = try cluster.server.psql("SELECT seq FROM credsd_feed_head")
        #expect(feed == "\(head) 1 \(head)")
    }

    @Test("a host whose data directory was wiped resyncs everything at its next start")
    func wipedDataDirectory() throws {
        let cluster = try ClusterFixture(hosts: 2)
        let (one, two) = (cluster.hosts[0], cluster.hosts[1])
        try one.addWriter()
        for index in 0..<20 { _ = try Self.upsert(one, name: "c\(index)", key: "fal_wiped_\(index)") }
        try eventually { guard try Self.connectionCount(two) == 20 else { throw Pending() } }
        #expect(two.stop() == 0)
        try FileManager.default.removeItem(atPath: two.dataDir)
        try two.start()
        #expect(try Self.connectionCount(two) == 20)
        #expect(two.daemonLog.contains("cluster.reason=first start"), "\(two.daemonLog.suffix(2000))")
    }

    @Test("a host killed (-9) while catching up restarts from its cursor and converges")
    func killedMidCatchUp() throws {
        let cluster = try ClusterFixture(hosts: 2)
        let (one, two) = (cluster.hosts[0], cluster.hosts[1])
        try one.addWriter()
        try awaitMembers(two)
        // Three rounds: the host is stopped while 500 writes land, resumed, and killed 20, 60 or 120 ms later
        // (catching up pages of 1,000), then started again.
        for (round, pause) in [20_000, 60_000, 120_000].enumerated() {
            guard let pid = two.pid else { return }
            kill(pid, SIGSTOP)
            for index in 0..<500 {
                _ = try Self.upsert(one, name: "k\(round)-\(index)", key: "fal_kill_\(round)_\(index)")
            }
            kill(pid, SIGCONT)
            usleep(useconds_t(pause))
            two.kill9()
            try two.start()
        }
        try eventually(within: 20) { guard try Self.connectionCount(two) == 1_500 else { throw Pending() } }
        // Only the first start resynced: every restart went on from the cursor it had kept.
        #expect(two.daemonLog.components(separatedBy: "cluster replica resyncing").count == 2, "\(two.daemonLog)")
    }

    @Test("a data directory with single-host records is refused in cluster mode (cluster import is the way in)")
    func singleHostStoreRefused() throws {
        let single = try DaemonFixture(mode: .process)
        try single.addWriter()
        try single.upsert(provider: "fal", payload: ["apiKey": "fal_single_host"])
        #expect(single.stop() == 0)
        let cluster = try ClusterFixture(hosts: 0)
        #expect(throws: FixtureError.self) {
            try DaemonFixture(
                mode: .process,
                configExtra: ClusterFixture.section(cluster.server, hostId: "converted", pollSeconds: 1),
                dataDirectory: single.dataDir, keyFile: single.keyFiles[0])
        }
        #expect(try cluster.server.psql("SELECT count(*) FROM credsd_records") == "0")
    }

    @Test(
        "cluster import: a single-host store's records, grants and policies serve on every host; a second import is refused"
    )
    func importSingleHost() throws {
        let single = try DaemonFixture(mode: .process)
        try single.addWriter()
        let id = try single.upsert(provider: "vercel-ai-gateway", payload: ["apiKey": "vck_imported_key"])
        try single.adminCall(
            "policy.set", ["workspaceId": "ws1", "provider": "vercel-ai-gateway", "mode": "byo", "actor": "alice"])
        let grant = try single.grant()
        #expect(single.stop() == 0)
        let cluster = try ClusterFixture(hosts: 0)
        let config = cluster.directory.write(
            "import.toml", ClusterFixture.section(cluster.server, hostId: "importer", pollSeconds: 1))
        let imported = try ProcessResult.run(
            Binaries.credsd, ["cluster", "import", "--config", config, "--data-dir", single.dataDir])
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(
            imported.stdout.contains(
                "imported 4 records (connection 1, policy 1, member 1, grant 1, budget 0, oauth_state 0)"))
        #expect(!(imported.stdout + imported.stderr).contains(cluster.server.password))
        for hostId in ["a", "b"] {
            let host = try DaemonFixture(
                mode: .process,
                configExtra: ClusterFixture.section(cluster.server, hostId: hostId, pollSeconds: 1),
                keyFile: single.keyFiles[0])
            let answer = try host.resolveCall(
                "resolve", ["workspaceId": "ws1", "provider": "vercel-ai-gateway", "grant": .string(grant)])
            #expect(answer["connectionId"] == .string(id))
            #expect(answer["policy"] == "byo")
            #expect(answer["credential"] == ["apiKey": "vck_imported_key"])
        }
        let again = try ProcessResult.run(
            Binaries.credsd, ["cluster", "import", "--config", config, "--data-dir", single.dataDir])
        #expect(again.status == 1)
        #expect(again.stderr.contains("already holds 4 record(s)"), "\(again.stderr)")
    }

    @Test("an unreadable row in PostgreSQL is applied closed: the feed goes on, health names it, writes still work")
    func unreadableRow() throws {
        let cluster = try ClusterFixture(hosts: 2)
        let (one, two) = (cluster.hosts[0], cluster.hosts[1])
        try one.addWriter()
        try awaitMembers(two)
        // A record that does not decode, one whose revision would exhaust the counter, and a key LMDB cannot hold,
        // each with its change, written by hand (as a tampered or newer-version database would hold them).
        let huge = String(repeating: "k", count: 600)
        try cluster.server.psql(
            """
            INSERT INTO credsd_records (entity, key, workspace_id, version, value, host_id) VALUES
              ('connection', 'bad1', 'ws1', 1, 'not json', 'evil'),
              ('connection', 'bad2', 'ws1', 1, convert_to('{"id":"bad2","workspaceId":"ws1","provider":"fal",
                "displayName":"x","mode":"service","status":"active","createdAt":0,"updatedAt":0,
                "revision":18446744073709551615}', 'UTF8'), 'evil'),
              ('policy', convert_to('\(huge)', 'UTF8'), 'ws1', 1, 'byo', 'evil');
            WITH h AS (UPDATE credsd_feed_head SET seq = seq + 3 WHERE id = 1 RETURNING seq)
            INSERT INTO credsd_changes (seq, entity, workspace_id, entity_key, version, op, host_id)
            SELECT h.seq - 2, 'connection', 'ws1', 'bad1'::bytea, 1, 'put', 'evil' FROM h
            UNION ALL SELECT h.seq - 1, 'connection', 'ws1', 'bad2'::bytea, 1, 'put', 'evil' FROM h
            UNION ALL SELECT h.seq, 'policy', 'ws1', convert_to('\(huge)', 'UTF8'), 1, 'put', 'evil' FROM h;
            NOTIFY credsd_changes, '0';
            """)
        for host in [one, two] {
            try eventually {
                let problems = try host.adminCall("health")["problems"]?.arrayValue ?? []
                guard problems.contains(where: { $0.stringValue?.contains("could not be read") == true }) else {
                    throw Pending()
                }
            }
        }
        // Both hosts go on following and writing.
        let id = try Self.upsert(two, name: "after", key: "fal_after_bad_rows")
        try eventually {
            _ = try one.adminCall("connections.get", ["connectionId": .string(id), "actor": "alice"])
        }
        #expect(try Self.connectionCount(one) == 1)
        // Three rows, each named in the log (none taken for another).
        #expect(two.daemonLog.components(separatedBy: "cannot be read: not served on this host").count == 4)
        #expect(
            try two.adminCall("health")["problems"]?.arrayValue?.contains(
                "3 record(s) from the cluster database could not be read and are not served") == true)
    }

    @Test("a grant revoked on a host that has not seen it yet is revoked, not answered not_found")
    func revokeOnALaggingHost() throws {
        let cluster = try ClusterFixture(hosts: 2)
        let (one, two) = (cluster.hosts[0], cluster.hosts[1])
        for _ in 0..<10 {
            let grant = try one.grant()
            try two.adminCall("grants.revoke", ["grant": .string(grant)])
            try eventually {
                let refusal = reason {
                    try one.resolveCall("resolve", ["workspaceId": "ws1", "provider": "fal", "grant": .string(grant)])
                }
                guard refusal == "grant_invalid" else { throw Pending() }
            }
        }
    }

    @Test("a webhook verified on one host is refused as a replay on another; while the database is away, per host")
    func webhookReplayAcrossHosts() throws {
        let cluster = try ClusterFixture(hosts: 2, clusterExtra: "[resolve]\nrequireGrant = false\n")
        let (one, two) = (cluster.hosts[0], cluster.hosts[1])
        try one.addWriter()
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        try one.upsert(provider: "resend", payload: ["apiKey": "re_cluster_webhook", "webhookSecret": .string(secret)])
        one.remember(secret)
        func verify(_ host: DaemonFixture, id: String) throws -> JSONValue {
            let now = Int(Date().timeIntervalSince1970)
            let body = "{\"type\":\"email.delivered\"}"
            let key = Base64.decodeSecret(secret.dropFirst(6).utf8)!
            let mac = HMAC.sha256(key: key, message: Array("\(id).\(now).\(body)".utf8))
            return try host.resolveCall(
                "events.verify",
                [
                    "workspaceId": "ws1", "provider": "resend", "body": .string(body),
                    "headers": [
                        "svix-id": .string(id), "svix-timestamp": .string(String(now)),
                        "svix-signature": .string("v1," + mac.withUnsafeBytes { Base64.encode($0) }),
                    ],
                ])
        }
        try eventually { _ = try verify(two, id: "msg_warmup") }
        #expect(try verify(one, id: "msg_1")["verified"] == true)
        #expect(reason { try verify(two, id: "msg_1") } == "replayed")
        #expect(reason { try verify(one, id: "msg_1") } == "replayed")
        #expect(try cluster.server.psql("SELECT count(*) FROM credsd_webhook_ids") == "2")
        // The database away: each host still refuses what it saw itself.
        try cluster.server.stop(mode: "fast")
        try awaitClusterState(two, "disconnected")
        #expect(try verify(two, id: "msg_2")["verified"] == true)
        #expect(reason { try verify(two, id: "msg_2") } == "replayed")
        try cluster.server.startAgain()
    }

    @Test("every host's audit chain reaches PostgreSQL, dense, linked and hashed; a head that was rewritten is refused")
    func auditShipping() throws {
        let cluster = try ClusterFixture(hosts: 2)
        let (one, two) = (cluster.hosts[0], cluster.hosts[1])
        try one.addWriter()
        for index in 0..<5 { _ = try Self.upsert(one, name: "a\(index)", key: "fal_audit_a_\(index)") }
        try eventually {
            guard try Self.connectionCount(two) == 5 else { throw Pending() }
        }
        for index in 0..<5 { _ = try Self.upsert(two, name: "b\(index)", key: "fal_audit_b_\(index)") }
        let server = cluster.server
        for host in ["host-1", "host-2"] {
            try eventually {
                let local = try (host == "host-1" ? one : two).adminCall("audit.verify")["checked"]?.intValue ?? 0
                let shipped = try server.psql(
                    "SELECT count(*) || ' ' || coalesce(max(seq), 0) FROM credsd_audit WHERE host_id = '\(host)'")
                guard local > 0, shipped == "\(local) \(local)" else { throw Pending() }
            }
            // Linked: every entry's prev_hash is the hash of the one before; hashed: the hash covers the entry.
            #expect(
                try server.psql(
                    """
                    SELECT count(*) FROM credsd_audit a JOIN credsd_audit b
                      ON b.host_id = a.host_id AND b.seq = a.seq + 1
                    WHERE a.host_id = '\(host)' AND b.prev_hash <> a.hash
                    """) == "0")
            #expect(
                try server.psql(
                    """
                    SELECT count(*) FROM credsd_audit WHERE host_id = '\(host)'
                      AND sha256(substring(entry FROM 1 FOR length(entry) - 32)) <> hash
                    """) == "0")
            #expect(
                try server.psql(
                    "SELECT h.seq = max(a.seq) FROM credsd_audit_heads h JOIN credsd_audit a USING (host_id) "
                        + "WHERE h.host_id = '\(host)' GROUP BY h.seq") == "t")
        }
        // audit.verify on either host checks both chains as shipped.
        let verified = try one.adminCall("audit.verify")
        #expect(verified["ok"] == true, "\(verified)")
        #expect(verified["hosts"]?.arrayValue?.compactMap { $0["hostId"]?.stringValue } == ["host-1", "host-2"])
        // A shipped entry changed in the database (one byte), then one removed: both are named.
        try server.psql(
            """
            UPDATE credsd_audit SET entry = overlay(entry PLACING '\\xff'::bytea FROM 12 FOR 1)
            WHERE host_id = 'host-1' AND seq = 2
            """)
        let tampered = try two.adminCall("audit.verify")
        #expect(tampered["ok"] == false)
        let hostOne = tampered["hosts"]?.arrayValue?.first { $0["hostId"] == "host-1" }
        #expect(hostOne?["firstBroken"] == 2, "\(tampered)")
        try server.psql("DELETE FROM credsd_audit WHERE host_id = 'host-2' AND seq = 3")
        let removed = try one.adminCall("audit.verify")
        let hostTwo = removed["hosts"]?.arrayValue?.first { $0["hostId"] == "host-2" }
        #expect(hostTwo?["ok"] == false, "\(removed)")
        // What was shipped is rewritten in the database: the host's next batch is refused, nothing is written,
        // and health says why.
        let before = try server.psql("SELECT count(*) FROM credsd_audit WHERE host_id = 'host-2'")
        try server.psql("UPDATE credsd_audit_heads SET hash = sha256('forged') WHERE host_id = 'host-2'")
        _ = try Self.upsert(two, name: "after", key: "fal_audit_after")
        try eventually {
            let problems = try two.adminCall("health")["problems"]?.arrayValue ?? []
            guard problems.contains(where: { $0.stringValue?.contains("refuses this host's audit chain") == true })
            else { throw Pending() }
        }
        #expect(try server.psql("SELECT count(*) FROM credsd_audit WHERE host_id = 'host-2'") == before)
        // A head moved ahead in the database: the host's next entries fall "below" it without rows there, and are
        // refused rather than taken as already shipped.
        let beforeOne = try server.psql("SELECT count(*) FROM credsd_audit WHERE host_id = 'host-1'")
        try server.psql("UPDATE credsd_audit_heads SET seq = seq + 1000000 WHERE host_id = 'host-1'")
        _ = try Self.upsert(one, name: "after head moved", key: "fal_audit_moved")
        try eventually {
            let problems = try one.adminCall("health")["problems"]?.arrayValue ?? []
            guard problems.contains(where: { $0.stringValue?.contains("refuses this host's audit chain") == true })
            else { throw Pending() }
        }
        #expect(try server.psql("SELECT count(*) FROM credsd_audit WHERE host_id = 'host-1'") == beforeOne)
    }

    @Test("no credential, grant or webhook secret is in PostgreSQL in clear (raw, base64 or hex)")
    func noSecretInTheDatabase() throws {
        let cluster = try ClusterFixture(hosts: 2)
        let one = cluster.hosts[0]
        try one.addWriter()
        let webhook = "whsec_Y2x1c3RlcmxlYWtjaGVja3dlYmhvb2tzZWNyZXQ="
        try one.upsert(
            provider: "resend", payload: ["apiKey": "re_ClusterLeakCheck_1234", "webhookSecret": .string(webhook)])
        try one.upsert(provider: "elevenlabs", payload: ["apiKey": "sk_cluster_leakcheck_abcdef"])
        one.remember(webhook)
        _ = try one.grant()
        _ = try cluster.hosts[1].grant(providers: ["resend"])
        let dump = try cluster.server.psql(
            """
            SELECT string_agg(entity || ':' || encode(key, 'escape') || ':' || coalesce(encode(value, 'escape'), ''), E'\\n')
            FROM credsd_records;
            SELECT string_agg(entity || ':' || encode(entity_key, 'escape') || ':' || host_id, E'\\n') FROM credsd_changes;
            """)
        #expect(dump.contains("connection:"))
        let keyHex = try cluster.server.psql(
            "SELECT string_agg(encode(key, 'hex') || encode(coalesce(value, ''), 'hex'), '') FROM credsd_records")
        for secret in one.secrets + cluster.hosts[1].secrets {
            for form in LeakTests.forms(of: secret) {
                #expect(!dump.contains(form), "a secret in PostgreSQL: \(form.prefix(6))…")
                #expect(!keyHex.contains(form.lowercased()), "a secret in PostgreSQL (hex): \(form.prefix(6))…")
            }
        }
    }
}
