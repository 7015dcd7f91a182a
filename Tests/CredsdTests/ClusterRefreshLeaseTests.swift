import CredsProtocol
import Foundation
import Testing

/// Cluster mode (SPEC 10): one Google token refresh per connection across hosts, under a lease in PostgreSQL.
@Suite("cluster mode: one token refresh across hosts", .serialized)
struct ClusterRefreshLeaseTests {

    private static let resolveParams: [String: JSONValue] = ["workspaceId": "ws1", "provider": "google-workspace"]

    /// Three hosts against one fake Google, with a Google connection imported whose access token expires in
    /// `expiresIn` seconds (inside the 300 s refresh window), visible on every host.
    private static func cluster(expiresIn: TimeInterval) throws -> (ClusterFixture, FakeOAuthProvider, String) {
        let provider = try FakeOAuthProvider()
        let cluster = try ClusterFixture(
            hosts: 3, clusterExtra: "\n[resolve]\nrequireGrant = false\n\n" + provider.configSections())
        let one = cluster.hosts[0]
        try one.addWriter()
        provider.configure { $0.refreshTokens.insert("1//cluster-refresh") }
        let result = try one.adminCall(
            "connections.upsert",
            [
                "workspaceId": "ws1", "provider": "google-workspace", "displayName": "Drive", "actor": "alice",
                "credentialPayload": [
                    "accessToken": "ya29.before", "refreshToken": "1//cluster-refresh",
                    "expiresAt": .string(ISO8601DateFormatter().string(from: Date().addingTimeInterval(expiresIn))),
                    "scopes": ["https://www.googleapis.com/auth/drive.file"],
                ],
            ])
        let id = try #require(result["connection"]?["id"]?.stringValue)
        for host in cluster.hosts {
            try eventually {
                _ = try host.adminCall("connections.get", ["connectionId": .string(id), "actor": "alice"])
            }
        }
        return (cluster, provider, id)
    }

    @Test(
        "an expiring token resolved at once on 3 hosts: one call to the token endpoint, every host gets the new token")
    func oneRefreshAcrossHosts() throws {
        let (cluster, provider, _) = try Self.cluster(expiresIn: 60)
        provider.configure { $0.refreshDelay = 0.3 }
        let tokens = Failures()
        let failures = Failures()
        DispatchQueue.concurrentPerform(iterations: 6) { index in
            do {
                let answer = try cluster.hosts[index % 3].resolveCall("resolve", Self.resolveParams)
                tokens.add(answer["credential"]?["accessToken"]?.stringValue ?? "?")
            } catch {
                failures.add("\(error)")
            }
        }
        #expect(failures.all.isEmpty, "\(failures.all)")
        #expect(provider.read { $0.refreshCalls } == 1)
        // The winner answered the new token; the others the current one, still valid (SPEC 10), or the new one.
        let fresh = Set(tokens.all).subtracting(["ya29.before"])
        #expect(fresh.count == 1, "\(tokens.all)")
        // Once the winner's change has reached them, every host serves the stored new token: still one call.
        for host in cluster.hosts {
            try eventually {
                let answer = try host.resolveCall("resolve", Self.resolveParams)
                guard answer["credential"]?["accessToken"]?.stringValue == fresh.first else { throw Pending() }
            }
        }
        #expect(provider.read { $0.refreshCalls } == 1)
    }

    @Test("a refresh Google fails gives its lease back at once; the current token still serves")
    func failedRefreshReleasesTheLease() throws {
        let (cluster, provider, id) = try Self.cluster(expiresIn: 60)
        provider.configure { $0.behaviour = .serverError }
        let answer = try cluster.hosts[0].resolveCall("resolve", Self.resolveParams)
        #expect(answer["credential"]?["accessToken"] == "ya29.before")
        #expect(provider.read { $0.refreshCalls } == 1)
        let lease = try cluster.server.psql(
            "SELECT coalesce(holder, 'free') || ' ' || (lease_until <= clock_timestamp())::text "
                + "FROM credsd_refresh_leases WHERE connection_id = '\(id)'")
        #expect(lease == "free true", "\(lease)")
    }

    @Test("a write-back after the lease was taken over is discarded; the caller still gets a valid token")
    func staleWriteBackDiscarded() throws {
        let (cluster, provider, id) = try Self.cluster(expiresIn: 60)
        provider.configure { $0.refreshDelay = 1.5 }
        let version = try cluster.server.psql(
            "SELECT version FROM credsd_records WHERE entity = 'connection' AND key = convert_to('\(id)', 'UTF8')")
        let answered = Failures()
        let resolving = Thread {
            do {
                let answer = try cluster.hosts[0].resolveCall("resolve", Self.resolveParams)
                answered.add(answer["credential"]?["accessToken"]?.stringValue ?? "?")
            } catch {
                answered.add("error: \(error)")
            }
        }
        resolving.start()
        // While host 1 waits on the token endpoint, another holder takes the lease over (as a host would once the
        // lease expired).
        try eventually {
            guard try cluster.server.psql("SELECT count(*) FROM credsd_refresh_leases WHERE holder = 'host-1'") == "1"
            else { throw Pending() }
        }
        try cluster.server.psql(
            """
            UPDATE credsd_refresh_leases SET holder = 'thief', fencing = fencing + 1,
                lease_until = clock_timestamp() + interval '30 seconds'
            """)
        try eventually { guard !answered.all.isEmpty else { throw Pending() } }
        let token = answered.all[0]
        #expect(token != "ya29.before" && !token.hasPrefix("error"), "\(token)")
        // Nothing was written: the record keeps its version, the feed has no change for it.
        #expect(
            try cluster.server.psql(
                "SELECT version FROM credsd_records WHERE entity = 'connection' AND key = convert_to('\(id)', 'UTF8')")
                == version)
        #expect(provider.read { $0.refreshCalls } == 1)
    }

    @Test("with the database away a host refreshes alone; when it returns the token is written back to every host")
    func outageRefreshWrittenBack() throws {
        let (cluster, provider, id) = try Self.cluster(expiresIn: 60)
        let (one, two) = (cluster.hosts[0], cluster.hosts[1])
        let version = try cluster.server.psql("SELECT version FROM credsd_records WHERE entity = 'connection'")
        try cluster.server.stop(mode: "fast")
        try awaitClusterState(one, "disconnected")
        let fresh = try one.resolveCall("resolve", Self.resolveParams)["credential"]?["accessToken"]?.stringValue
        #expect(fresh != nil && fresh != "ya29.before")
        #expect(provider.read { $0.refreshCalls } == 1)
        // Held in memory meanwhile: served again without another call.
        #expect(try one.resolveCall("resolve", Self.resolveParams)["credential"]?["accessToken"]?.stringValue == fresh)
        try cluster.server.startAgain()
        try eventually(within: 30) {
            guard one.daemonLog.contains("token refreshed during a cluster outage written back") else {
                throw Pending()
            }
        }
        #expect(try cluster.server.psql("SELECT version FROM credsd_records WHERE entity = 'connection'") != version)
        let head = try cluster.server.psql("SELECT seq FROM credsd_feed_head")
        try eventually(within: 30) {
            guard try two.adminCall("health")["cluster"]?["seq"]?.intValue.map(String.init) == head else {
                throw Pending()
            }
        }
        // The other host serves the written-back token: no refresh of its own.
        #expect(try two.resolveCall("resolve", Self.resolveParams)["credential"]?["accessToken"]?.stringValue == fresh)
        #expect(provider.read { $0.refreshCalls } == 1)
        _ = id
    }
}
