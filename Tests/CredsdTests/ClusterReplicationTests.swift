import CredsProtocol
import Foundation
import Testing

/// Cluster mode (SPEC 10) on a real PostgreSQL with real daemons: writes go through the database, every host's
/// replica follows the change feed.
@Suite("cluster mode: writes through PostgreSQL, replicas following the feed", .serialized)
struct ClusterReplicationTests {
    private static func resolveParams(_ grant: String, provider: String = "vercel-ai-gateway") -> [String: JSONValue] {
        ["workspaceId": "ws1", "provider": .string(provider), "grant": .string(grant)]
    }

    @Test("a write on one host is resolvable on the others; the writing host reads its own write at once")
    func writeHereResolveThere() throws {
        let cluster = try ClusterFixture(hosts: 3)
        let (one, two, three) = (cluster.hosts[0], cluster.hosts[1], cluster.hosts[2])
        try one.addWriter()
        let id = try one.upsert(provider: "vercel-ai-gateway", payload: ["apiKey": "vck_cluster_one"])
        let grant = try one.grant()
        // Read-your-writes: no waiting on the host that took them.
        #expect(try one.resolveCall("resolve", Self.resolveParams(grant))["connectionId"] == .string(id))
        for host in [two, three] {
            let answer = try eventually { try host.resolveCall("resolve", Self.resolveParams(grant)) }
            #expect(answer["connectionId"] == .string(id))
            #expect(answer["credential"] == ["apiKey": "vck_cluster_one"])
        }
        // A write on another host, of the same record: versions move on, everyone converges.
        try two.adminCall(
            "connections.upsert",
            [
                "workspaceId": "ws1", "provider": "vercel-ai-gateway", "connectionId": .string(id),
                "displayName": "Renamed", "credentialPayload": ["apiKey": "vck_cluster_two"], "actor": "alice",
            ])
        for host in [one, two, three] {
            try eventually {
                let answer = try host.resolveCall("resolve", Self.resolveParams(grant))
                guard answer["credential"] == ["apiKey": "vck_cluster_two"] else { throw Pending() }
            }
        }
        // The cursor in `health` is moved just after the page's LMDB commit a resolve already reads from.
        let health = try eventually {
            let health = try three.adminCall("health")
            guard (health["cluster"]?["seq"]?.intValue ?? 0) >= 4 else { throw Pending() }
            return health
        }
        #expect(health["status"] == "ok", "\(health)")
        #expect(health["cluster"]?["state"] == "connected")
    }

    @Test("grants issued on one host work on all; a revocation on another propagates")
    func grantsAcrossHosts() throws {
        let cluster = try ClusterFixture(hosts: 3)
        let (one, two, three) = (cluster.hosts[0], cluster.hosts[1], cluster.hosts[2])
        try one.addWriter()
        try one.upsert(provider: "vercel-ai-gateway", payload: ["apiKey": "vck_grants"])
        let grant = try two.grant()
        for host in [one, three] {
            try eventually { try host.resolveCall("resolve", Self.resolveParams(grant)) }
        }
        try three.adminCall("grants.revoke", ["grant": .string(grant)])
        for host in [one, two, three] {
            try eventually {
                guard reason({ try host.resolveCall("resolve", Self.resolveParams(grant)) }) == "grant_invalid" else {
                    throw Pending()
                }
            }
        }
    }

    @Test("the same record written on three hosts at once: every write answers, all hosts end the same")
    func concurrentWritesOfOneRecord() throws {
        let cluster = try ClusterFixture(hosts: 3)
        try cluster.hosts[0].addWriter()
        for host in cluster.hosts {
            try awaitMembers(host)
        }
        let modes = ["auto", "byo", "built_in"]
        let failures = Failures()
        DispatchQueue.concurrentPerform(iterations: 30) { index in
            let host = cluster.hosts[index % 3]
            do {
                try host.adminCall(
                    "policy.set",
                    ["workspaceId": "ws1", "provider": "fal", "mode": .string(modes[index % 3]), "actor": "alice"])
            } catch {
                failures.add("\(error)")
            }
        }
        #expect(failures.all.isEmpty, "\(failures.all)")
        // 30 writes of one row, each a new version (the first above the feed's head, then +1): none lost to another.
        #expect(
            try cluster.server.psql(
                "SELECT count(*) || ' ' || (max(version) - min(version) + 1) || ' ' || "
                    + "(max(version) = (SELECT version FROM credsd_records WHERE entity = 'policy')) "
                    + "FROM credsd_changes WHERE entity = 'policy'") == "30 30 true")
        let final = try cluster.server.psql(
            "SELECT convert_from(value, 'UTF8') FROM credsd_records WHERE entity = 'policy'")
        for host in cluster.hosts {
            try eventually {
                let policy = try host.adminCall(
                    "policy.get", ["workspaceId": "ws1", "provider": "fal", "actor": "alice"])
                guard policy["mode"] == .string(final) else { throw Pending() }
            }
        }
    }
}

/// Errors collected from concurrent work.
final class Failures: @unchecked Sendable {
    private let lock = NSLock()
    private var errors: [String] = []

    func add(_ error: String) {
        lock.lock()
        errors.append(error)
        lock.unlock()
    }

    var all: [String] {
        lock.lock()
        defer { lock.unlock() }
        return errors
    }
}

/// Keeps calling a method (`resolve` on the resolve socket by default; any other on the admin socket) on a host
/// from a thread of its own until stopped; counts answers and refusals.
final class ResolveLoop: @unchecked Sendable {
    private let lock = NSLock()
    private var running = true
    private(set) var answered = 0
    private(set) var refused: [String] = []
    private let done = DispatchSemaphore(value: 0)

    init(_ host: DaemonFixture, _ params: [String: JSONValue], method: String = "resolve") {
        Thread.detachNewThread {
            let connect = { method == "resolve" ? try host.resolver() : try host.admin() }
            let client = try? connect()
            while self.isRunning {
                do {
                    _ = try (client ?? connect()).call(method, params)
                    self.count(nil)
                } catch {
                    self.count("\(error)")
                }
                usleep(1_000)
            }
            self.done.signal()
        }
    }

    private var isRunning: Bool {
        lock.lock()
        defer { lock.unlock() }
        return running
    }

    private func count(_ refusal: String?) {
        lock.lock()
        if let refusal { refused.append(refusal) } else { answered += 1 }
        lock.unlock()
    }

    /// Stops the loop and returns (answered, refusals); again, returns them again.
    func stop() -> (answered: Int, refused: [String]) {
        lock.lock()
        let wasRunning = running
        running = false
        lock.unlock()
        if wasRunning { done.wait() }
        lock.lock()
        defer { lock.unlock() }
        return (answered, refused)
    }
}
