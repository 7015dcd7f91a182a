import CredsCrypto
import CredsProtocol
import Foundation
import Testing

/// The cluster database's upkeep (SPEC 10; `credsd cluster upkeep` runs what the hosts run every 10 minutes):
/// expired grants deleted by the database's clock and dropped by every host, tombstones purged once no change
/// names them, and a record created again after its tombstone was purged reaching every host.
@Suite("cluster mode: the database's upkeep", .serialized)
struct ClusterUpkeepTests {
    private static func upkeep(_ cluster: ClusterFixture) throws -> String {
        let result = try ProcessResult.run(
            Binaries.credsd, ["cluster", "upkeep", "--config", cluster.directory.file("init.toml")])
        #expect(result.status == 0, "\(result.stderr)")
        return result.stdout
    }

    /// Waits until every host has applied the feed up to its head.
    private static func awaitHead(_ cluster: ClusterFixture) throws {
        let head = try cluster.server.psql("SELECT seq FROM credsd_feed_head")
        for host in cluster.hosts {
            try eventually {
                guard try host.adminCall("health")["cluster"]?["seq"]?.intValue.map(String.init) == head else {
                    throw Pending()
                }
            }
        }
    }

    private static func role(_ host: DaemonFixture, _ principal: String) throws -> String? {
        let members = try host.adminCall("members.list", ["workspaceId": "ws1"])["members"]?.arrayValue ?? []
        return members.first { $0["principal"]?.stringValue == principal }?["role"]?.stringValue
    }

    @Test("grants expired by the database's clock are deleted with their changes; every host drops them")
    func expiredGrants() throws {
        let cluster = try ClusterFixture(hosts: 2)
        let (one, two) = (cluster.hosts[0], cluster.hosts[1])
        let short = try one.grant(ttl: 1)
        let long = try one.grant(ttl: 3600)
        try Self.awaitHead(cluster)
        usleep(1_500_000)
        #expect(try Self.upkeep(cluster).contains("expired grants and OAuth states deleted 1"))
        let server = cluster.server
        #expect(
            try server.psql("SELECT encode(key, 'hex') FROM credsd_records WHERE entity = 'grant' AND deleted")
                == Hex.encode(Digest.sha256(Array(short.utf8))))
        #expect(try server.psql("SELECT count(*) FROM credsd_records WHERE entity = 'grant' AND NOT deleted") == "1")
        #expect(
            try server.psql(
                "SELECT count(*) FROM credsd_changes WHERE entity = 'grant' AND op = 'delete' AND host_id = 'init'")
                == "1")
        // Every host applied the delete: the expired grant is gone (not_found), the other one is still there.
        try Self.awaitHead(cluster)
        #expect(reason { try two.adminCall("grants.revoke", ["grant": .string(short)]) } == "not_found")
        try two.adminCall("grants.revoke", ["grant": .string(long)])
        // Nothing more to delete the second time.
        #expect(try Self.upkeep(cluster).contains("expired grants and OAuth states deleted 0"))
    }

    @Test("a tombstone no change names is purged; the record created again reaches every host")
    func tombstones() throws {
        let cluster = try ClusterFixture(hosts: 3)
        let hosts = cluster.hosts
        let server = cluster.server
        try hosts[0].addWriter()
        try hosts[0].adminCall("members.set", ["workspaceId": "ws1", "principal": "bob", "role": "write"])
        try hosts[1].adminCall("members.set", ["workspaceId": "ws1", "principal": "bob", "role": "none"])
        try hosts[0].adminCall("members.set", ["workspaceId": "ws1", "principal": "dave", "role": "read"])
        try Self.awaitHead(cluster)
        for host in hosts { #expect(try Self.role(host, "bob") == nil) }
        let tombstone = try server.psql("SELECT version FROM credsd_records WHERE entity = 'member' AND deleted")
        let tombstoneVersion = try #require(Int(tombstone))
        let resyncs = hosts.map { $0.daemonLog.components(separatedBy: "cluster replica resyncing").count }
        // Eight days later (by the rows' clocks) for everything but the newest change (each host's cursor stays
        // where it was: a change at a cursor whose time moved would be a rewind, and every host would resync), and
        // with a change after it: the changes are pruned, then the tombstone no change names.
        try server.psql(
            """
            UPDATE credsd_changes SET committed_at = committed_at - interval '8 days'
              WHERE seq < (SELECT seq FROM credsd_feed_head);
            UPDATE credsd_records SET updated_at = updated_at - interval '8 days' WHERE deleted
            """)
        try hosts[0].adminCall("members.set", ["workspaceId": "ws1", "principal": "carol", "role": "read"])
        let report = try Self.upkeep(cluster)
        #expect(report.contains("tombstones purged 1"), "\(report)")
        #expect(try server.psql("SELECT count(*) FROM credsd_records WHERE deleted") == "0")
        // Created again on another host: its version is above the purged tombstone's, which every host kept.
        try hosts[1].adminCall("members.set", ["workspaceId": "ws1", "principal": "bob", "role": "read"])
        for host in hosts {
            try eventually {
                guard try Self.role(host, "bob") == "read" else { throw Pending() }
            }
        }
        let version = try server.psql(
            "SELECT version FROM credsd_records WHERE entity = 'member' AND value = convert_to('read', 'UTF8') "
                + "AND key = convert_to('ws1', 'UTF8') || '\\x00'::bytea || convert_to('bob', 'UTF8')")
        #expect((Int(version) ?? 0) > tombstoneVersion, "\(version) after \(tombstone)")
        // No host resynced on the way (a resync would have forgotten the tombstone, and proved nothing).
        #expect(hosts.map { $0.daemonLog.components(separatedBy: "cluster replica resyncing").count } == resyncs)
    }

    @Test("an update from a replica whose record is gone in the database is refused, never created again from it")
    func updateOfAGoneRecord() throws {
        let cluster = try ClusterFixture(hosts: 1)
        let one = cluster.hosts[0]
        try one.addWriter()
        let id = try one.upsert(provider: "fal", payload: ["apiKey": "fal_gone_before"], name: "gone")
        // The row removed with no change record, as a purge does while a host is away: this replica still holds it.
        try cluster.server.psql("DELETE FROM credsd_records WHERE entity = 'connection'")
        let update = reason {
            try one.adminCall(
                "connections.upsert",
                [
                    "workspaceId": "ws1", "provider": "fal", "displayName": "gone", "connectionId": .string(id),
                    "credentialPayload": ["apiKey": "fal_gone_update"], "actor": "alice",
                ])
        }
        // Every attempt conflicts (no row holds the version this replica saw); after them the caller is told to try
        // again, by when this replica has caught up or resynced.
        #expect(update == "overloaded")
        #expect(
            try cluster.server.psql(
                "SELECT count(*) FROM credsd_records WHERE entity = 'connection' AND key = convert_to('\(id)', 'UTF8')")
                == "0")
    }
}
