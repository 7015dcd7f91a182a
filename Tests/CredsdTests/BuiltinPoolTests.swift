import CredsClient
import CredsProtocol
import Foundation
import Testing

/// Platform key pools (SPEC 12): keys taken in turn, each named by a stable `builtinKeyId` that is not derived
/// from the key alone; keys cooling down skipped, every key cooling `rate_limited`; SIGHUP adds and removes keys
/// without dropping the others' cooldowns.
@Suite("platform key pools")
struct BuiltinPoolTests {
    private static let keys = ["fal-pool-key-one-1111", "fal-pool-key-two-2222", "fal-pool-key-three-3333"]

    /// Resolves `count` times with the platform's key; the keys and ids answered.
    private static func resolves(_ daemon: DaemonFixture, grant: String, workspace: String = "ws1", count: Int) throws
        -> [(key: String, id: String)]
    {
        try (0..<count).map { _ in
            let answer = try daemon.resolveCall(
                "resolve", ["workspaceId": .string(workspace), "provider": "fal", "grant": .string(grant)])
            #expect(answer["source"] == "built_in")
            return (
                answer["credential"]?["apiKey"]?.stringValue ?? "", answer["builtinKeyId"]?.stringValue ?? ""
            )
        }
    }

    private static func report(
        _ daemon: DaemonFixture,
        grant: String,
        id: String,
        outcome: String = "rate_limited",
        workspace: String = "ws1"
    ) throws {
        try daemon.resolveCall(
            "resolve.report",
            [
                "workspaceId": .string(workspace), "provider": "fal", "grant": .string(grant), "source": "built_in",
                "builtinKeyId": .string(id), "outcome": .string(outcome), "retryAfterSeconds": 600,
            ])
    }

    @Test("keys in turn; ids stable across a restart, named with the master key, never a part of the key")
    func rotationAndIds() throws {
        let daemon = try DaemonFixture(mode: .process, builtinPools: ["fal": Self.keys])
        try daemon.addWriter()
        let grant = try daemon.grant()
        let served = try Self.resolves(daemon, grant: grant, count: 6)
        // Every key twice, in turn.
        #expect(
            Dictionary(grouping: served, by: \.key).mapValues(\.count)
                == Dictionary(
                    uniqueKeysWithValues: Self.keys.map { ($0, 2) }))
        #expect(zip(served, served.dropFirst()).allSatisfy { $0.key != $1.key })
        // One id per key, `bk_` and 16 hex digits, sharing nothing with the key.
        var ids: [String: String] = [:]
        for (key, id) in served { ids[key] = id }
        #expect(Set(ids.values).count == 3)
        for (key, id) in ids {
            #expect(id.range(of: "^bk_[0-9a-f]{16}$", options: .regularExpression) != nil, "\(id)")
            #expect(!id.contains(String(key.prefix(6))) && !key.contains(id.dropFirst(3)))
        }
        // explain names the key resolve would take next.
        try daemon.adminCall(
            "policy.set", ["workspaceId": "ws1", "provider": "fal", "mode": "built_in", "actor": "alice"])
        let explained = try daemon.adminCall("explain", ["workspaceId": "ws1", "provider": "fal", "actor": "alice"])
        #expect(Set(ids.values).contains(explained["builtinKeyId"]?.stringValue ?? ""))
        #expect(String(decoding: explained.serialized(), as: UTF8.self).contains("fal-pool-key") == false)
        // The same ids after a restart.
        try daemon.restart()
        let again = try Self.resolves(daemon, grant: grant, count: 3)
        for (key, id) in again { #expect(ids[key] == id) }
        // Another installation (another master key) names the same keys differently: an id cannot be computed
        // from the key alone.
        let other = try DaemonFixture(builtinPools: ["fal": Self.keys])
        try other.addWriter()
        let otherIds = try Self.resolves(other, grant: try other.grant(), count: 3).map(\.id)
        #expect(Set(otherIds).isDisjoint(with: Set(ids.values)))
    }

    @Test("a key cooling down is skipped for the workspace that reported it; all cooling is rate_limited")
    func cooldowns() throws {
        let daemon = try DaemonFixture(builtinPools: ["fal": Self.keys])
        try daemon.addWriter()
        let grant = try daemon.grant()
        let ids = Dictionary(try Self.resolves(daemon, grant: grant, count: 3).map { ($0.key, $0.id) }) { $1 }
        let first = try #require(ids[Self.keys[0]])
        try Self.report(daemon, grant: grant, id: first)
        let after = try Self.resolves(daemon, grant: grant, count: 6)
        #expect(!after.contains { $0.id == first })
        #expect(Set(after.map(\.id)).count == 2)
        // Another workspace is still served the key.
        let other = try daemon.grant(workspace: "ws2")
        #expect(try Self.resolves(daemon, grant: other, workspace: "ws2", count: 3).contains { $0.id == first })
        // Every key cooling: rate_limited, with when to come back.
        for key in Self.keys.dropFirst() { try Self.report(daemon, grant: grant, id: try #require(ids[key])) }
        do {
            _ = try Self.resolves(daemon, grant: grant, count: 1)
            Issue.record("a resolve with every key cooling answered")
        } catch CredsClientError.remote(let error) {
            #expect(error.reason == "rate_limited")
            let wait = error.data["retryAfterSeconds"]?.intValue ?? 0
            #expect(wait > 500 && wait <= 600, "\(wait)")
        }
        // ok about one key brings it back.
        try Self.report(daemon, grant: grant, id: first, outcome: "ok")
        #expect(try Self.resolves(daemon, grant: grant, count: 2).allSatisfy { $0.id == first })
        // A key id that is not the pool's is refused.
        #expect(reason { try Self.report(daemon, grant: grant, id: "bk_0000000000000000") } == "invalid_params")
    }

    @Test("SIGHUP adds and removes pool keys; the others keep their cooldowns")
    func reload() throws {
        let daemon = try DaemonFixture(mode: .process, builtinPools: ["fal": Self.keys])
        try daemon.addWriter()
        let grant = try daemon.grant()
        let ids = Dictionary(try Self.resolves(daemon, grant: grant, count: 3).map { ($0.key, $0.id) }) { $1 }
        let second = try #require(ids[Self.keys[1]])
        try Self.report(daemon, grant: grant, id: second)
        // Key one removed, key four added; key two still cooling.
        let fourth = "fal-pool-key-four-4444"
        daemon.setBuiltinPools(["fal": [Self.keys[1], Self.keys[2], fourth]])
        daemon.reload()
        try eventually {
            let served = try Self.resolves(daemon, grant: grant, count: 2)
            guard served.contains(where: { $0.key == fourth }) else { throw Pending() }
        }
        let served = try Self.resolves(daemon, grant: grant, count: 6)
        #expect(Set(served.map(\.key)) == [Self.keys[2], fourth])
        #expect(!served.contains { $0.id == second })
    }
}
