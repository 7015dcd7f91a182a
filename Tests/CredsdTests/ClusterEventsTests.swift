import CredsProtocol
import Foundation
import Testing

/// Events in cluster mode (SPEC 11 over SPEC 10): every host records the events of the changes it applies, its own
/// and those the feed brings, in the same transaction; a resync, which rewrites every record, makes none.
@Suite("cluster mode: events on every host", .serialized)
struct ClusterEventsTests {
    private static func types(_ host: DaemonFixture) throws -> [String] {
        (try host.adminCall("events.list", ["limit": 1000])["events"]?.arrayValue ?? []).map {
            $0["type"]?.stringValue ?? ""
        }
    }

    @Test("a change on one host is an event on both; a resync makes no event")
    func eventsFollowTheFeed() throws {
        let cluster = try ClusterFixture(hosts: 2)
        let (one, two) = (cluster.hosts[0], cluster.hosts[1])
        try one.addWriter()
        try awaitMembers(two)
        let id = try one.upsert(provider: "fal", payload: ["apiKey": "fal_cluster_events"])
        try two.adminCall("policy.set", ["workspaceId": "ws1", "provider": "fal", "mode": "byo", "actor": "alice"])
        for host in [one, two] {
            try eventually {
                guard try Self.types(host) == ["connection.created", "policy.changed"] else { throw Pending() }
            }
        }
        let created = try two.adminCall("events.list")["events"]?.arrayValue?.first
        #expect(created?["connectionId"] == .string(id))
        // A new epoch makes every host resync: every record is written again, and no event comes of it.
        try cluster.server.psql("UPDATE credsd_feed_head SET epoch = gen_random_uuid()")
        try eventually(within: 30) {
            guard two.daemonLog.components(separatedBy: "cluster replica resynced").count > 2 else { throw Pending() }
        }
        try one.adminCall("connections.revoke", ["connectionId": .string(id), "actor": "alice"])
        try eventually {
            guard
                try Self.types(two) == ["connection.created", "policy.changed", "connection.status_changed"]
            else { throw Pending() }
        }
    }

    @Test("a report while the database is away: the cooldown holds and its event is in this host's outbox")
    func reportDuringOutage() throws {
        let cluster = try ClusterFixture(hosts: 1)
        let one = cluster.hosts[0]
        try one.addWriter()
        try one.upsert(provider: "fal", payload: ["apiKey": "fal_cluster_report"])
        let grant = try one.grant()
        try cluster.server.stop(mode: "fast")
        try awaitClusterState(one, "disconnected")
        let report: [String: JSONValue] = [
            "workspaceId": "ws1", "provider": "fal", "grant": .string(grant), "source": "byo",
            "outcome": "rate_limited",
        ]
        #expect(try one.resolveCall("resolve.report", report) == .object([:]))
        let answer = try one.resolveCall("resolve", ["workspaceId": "ws1", "provider": "fal", "grant": .string(grant)])
        #expect(answer["coolingDownUntil"]?.stringValue != nil)
        #expect(try Self.types(one).last == "connection.cooling_down")
    }

    @Test("webhooks in a cluster: each change is delivered once, by the host that made it")
    func webhooksOncePerChange() throws {
        let receiver = try FakeHTTPServer()
        let secrets = TemporaryDirectory()
        defer { withExtendedLifetime(secrets) {} }
        let file = secrets.write("webhook.secret", "whsec_Y2x1c3Rlcndla2hvb2tzZWNyZXQxMjM0NTY=\n", mode: 0o600)
        let cluster = try ClusterFixture(
            hosts: 2, clusterExtra: "[webhooks]\nurl = \"\(receiver.baseURL)/hooks\"\nsecretFile = \"\(file)\"\n")
        let (one, two) = (cluster.hosts[0], cluster.hosts[1])
        try one.addWriter()
        try awaitMembers(two)
        let first = try one.upsert(provider: "fal", payload: ["apiKey": "fal_cluster_hook_1"])
        let second = try two.upsert(provider: "fal", payload: ["apiKey": "fal_cluster_hook_2"])
        try eventually(within: 30) {
            guard receiver.requests.count >= 2 else { throw Pending() }
        }
        // A moment more: a duplicate from the other host would arrive within it.
        usleep(1_500_000)
        let delivered = receiver.requests.compactMap { try? JSONValue.parse($0.body) }
        #expect(delivered.compactMap { $0["connectionId"]?.stringValue }.sorted() == [first, second].sorted())
        #expect(delivered.allSatisfy { $0["type"] == "connection.created" })
        // Each host holds both events (for events.list and watch), and delivered only its own.
        for host in [one, two] {
            #expect(try Self.types(host).filter { $0 == "connection.created" }.count == 2)
            #expect(try host.adminCall("stats")["webhooks"]?["delivered"] == 1)
        }
    }
}
