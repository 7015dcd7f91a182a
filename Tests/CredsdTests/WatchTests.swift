import CredsClient
import CredsProtocol
import CredsStore
import Foundation
import Testing

/// `watch` (SPEC 11): events streamed as JSON-RPC notifications on the connection that asked, scoped by
/// workspace (admin) or by grant (resolve); a watcher far behind gets `resync` and is closed; a stalled one slows
/// no one; a watching connection is not closed for idleness.
@Suite("watch: events streamed to connections")
struct WatchTests {
    /// A connection that asked to watch, read frame by frame.
    private final class Stream {
        let client: CredsClient

        init(_ socket: String, _ params: [String: JSONValue], timeoutSeconds: Int = 5) throws {
            client = try CredsClient(socketPath: socket, timeoutSeconds: timeoutSeconds)
            let answer = try client.call("watch", params)
            #expect(answer == .object([:]))
        }

        /// The next notification: its method and params.
        func next() throws -> (method: String, params: JSONValue?) {
            let frame = try client.readAnswer()
            #expect(frame["id"] == nil)
            #expect(frame["jsonrpc"] == "2.0")
            return (frame["method"]?.stringValue ?? "", frame["params"])
        }

        /// The next `count` events' types and workspaces.
        func events(_ count: Int) throws -> [String] {
            try (0..<count).map { _ in
                let (method, params) = try next()
                #expect(method == "event")
                return "\(params?["type"]?.stringValue ?? "") \(params?["workspaceId"]?.stringValue ?? "")"
            }
        }
    }

    @Test("admin watch: new events as they happen, filtered by workspace; since replays what is kept")
    func adminWatch() throws {
        let daemon = try DaemonFixture()
        try daemon.addWriter()
        try daemon.addWriter(workspace: "ws2")
        let everything = try Stream(daemon.adminSocket, [:])
        let ws2 = try Stream(daemon.adminSocket, ["workspaceId": "ws2"])
        try daemon.upsert(provider: "fal", payload: ["apiKey": "fal_watch_1"])
        try daemon.upsert(provider: "fal", payload: ["apiKey": "fal_watch_2"], workspace: "ws2")
        try daemon.adminCall("policy.set", ["workspaceId": "ws1", "provider": "fal", "mode": "byo", "actor": "alice"])
        #expect(
            try everything.events(3) == [
                "connection.created ws1", "connection.created ws2", "policy.changed ws1",
            ])
        #expect(try ws2.events(1) == ["connection.created ws2"])
        let replay = try Stream(daemon.adminSocket, ["since": 1])
        #expect(try replay.events(2) == ["connection.created ws2", "policy.changed ws1"])
        // A second watch on the same connection is refused; the first goes on.
        #expect(reason { try everything.client.call("watch", [:]) } == "invalid_request")
    }

    @Test("resolve watch: the grant's workspace and providers only; a revoked grant ends it")
    func resolveWatch() throws {
        let daemon = try DaemonFixture()
        try daemon.addWriter()
        try daemon.addWriter(workspace: "ws2")
        let grant = try daemon.grant(providers: ["fal"])
        let scoped = try Stream(daemon.resolveSocket, ["grant": .string(grant)])
        try daemon.upsert(provider: "fal", payload: ["apiKey": "fal_watch_other"], workspace: "ws2")
        try daemon.upsert(provider: "gemini", payload: ["apiKey": "gemini_watch_key"])
        try daemon.upsert(provider: "fal", payload: ["apiKey": "fal_watch_mine"])
        #expect(try scoped.events(1) == ["connection.created ws1"])
        #expect(reason { _ = try Stream(daemon.resolveSocket, [:]) } == "grant_required")
        #expect(reason { _ = try Stream(daemon.resolveSocket, ["grant": "cg_forged"]) } == "grant_invalid")
        #expect(
            reason { _ = try Stream(daemon.resolveSocket, ["grant": .string(grant), "workspaceId": "ws2"]) }
                == "forbidden")
        #expect(reason { _ = try Stream(daemon.adminSocket, ["grant": .string(grant)]) } == "invalid_params")
        try daemon.adminCall("grants.revoke", ["grant": .string(grant)])
        try daemon.upsert(provider: "fal", payload: ["apiKey": "fal_watch_after"])
        #expect(scoped.client.isClosedByPeer(timeoutMilliseconds: 3_000))
    }

    @Test("a watcher that does not read slows no one; one idle past the idle timeout stays open")
    func stalledAndIdle() throws {
        let daemon = try DaemonFixture(configExtra: "[limits]\nidleTimeoutSeconds = 1\n")
        try daemon.addWriter()
        let stalled = try Stream(daemon.adminSocket, [:])
        let reader = try Stream(daemon.adminSocket, [:])
        // About 1,500 events of some 300 bytes: more than the stalled watcher's socket buffers hold.
        let modes = ["byo", "auto", "built_in"]
        for index in 0..<1_500 {
            try daemon.adminCall(
                "policy.set",
                ["workspaceId": "ws1", "provider": "fal", "mode": .string(modes[index % 3]), "actor": "alice"])
        }
        var received = 0
        while received < 1_500 {
            let (method, _) = try reader.next()
            if method == "event" { received += 1 }
        }
        #expect(received == 1_500)
        // The stalled one is open (fewer than 10,000 behind): it reads its events when it gets to them.
        #expect(try stalled.next().method == "event")
        // Idle for longer than the idle timeout: still open, and still given new events.
        sleep(2)
        try daemon.upsert(provider: "fal", payload: ["apiKey": "fal_watch_idle"])
        var last = ""
        for _ in 0..<2_000 {
            let (method, params) = try reader.next()
            if method == "event" { last = params?["type"]?.stringValue ?? "" }
            if last == "connection.created" { break }
        }
        #expect(last == "connection.created")
    }

    @Test("a watcher more than 10,000 events behind gets resync and is closed")
    func resync() throws {
        let daemon = try DaemonFixture(mode: .process)
        try daemon.addWriter()
        _ = daemon.stop()
        // 10,002 events written into the outbox directly, as many changes would have.
        let surgery = try StoreSurgery(dataDir: daemon.dataDir)
        let time = Timestamp.now().microseconds
        let events = (1...10_002).map { seq in
            let event: JSONValue = [
                "seq": .int(Int64(seq)), "time": .int(time), "type": "policy.changed", "workspaceId": "ws1",
                "provider": "fal", "from": "auto", "to": "byo", "reason": "policy_set",
            ]
            return (key: StoreSurgery.auditKey(UInt64(seq)), value: event.serialized())
        }
        try surgery.put("events", events)
        try surgery.put("meta", Array("events.head".utf8), StoreSurgery.auditKey(10_002))
        surgery.close()
        try daemon.start()
        #expect(try daemon.adminCall("events.list", ["since": 10_000])["events"]?.arrayValue?.count == 2)
        let behind = try Stream(daemon.adminSocket, ["since": 1])
        #expect(try behind.next().method == "resync")
        #expect(behind.client.isClosedByPeer(timeoutMilliseconds: 3_000))
        // Close enough is fine: from 10,000 behind it streams.
        let near = try Stream(daemon.adminSocket, ["since": 2])
        #expect(try near.next().method == "event")
    }
}
