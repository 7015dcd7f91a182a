import CredsCrypto
import CredsProtocol
import Foundation
import Synchronization
import Testing

/// `[webhooks]` (SPEC 11): every event POSTed to a receiver on 127.0.0.1, signed as Standard Webhooks, retried
/// after failures, in order per workspace, delivered after a restart; the receiver checks each signature.
@Suite("webhooks: signed event delivery")
struct WebhookDeliveryTests {
    private static let secretBytes = Array("0123456789abcdef0123456789abcdef".utf8)

    /// A daemon delivering to `receiver`, and the directory holding its secret file (kept as long as it runs).
    private static func daemon(_ receiver: FakeHTTPServer) throws -> (DaemonFixture, TemporaryDirectory) {
        let secrets = TemporaryDirectory()
        let file = secrets.write(
            "webhook.secret", "whsec_" + secretBytes.withUnsafeBytes { Base64.encode($0) } + "\n", mode: 0o600)
        let daemon = try DaemonFixture(
            mode: .process,
            configExtra: "[webhooks]\nurl = \"\(receiver.baseURL)/hooks/credsd\"\nsecretFile = \"\(file)\"\n")
        return (daemon, secrets)
    }

    /// The events the receiver accepted, checking every request's signature.
    private static func accepted(_ receiver: FakeHTTPServer, statuses: Set<Int> = [200]) -> [JSONValue] {
        receiver.requests.compactMap { request -> JSONValue? in
            guard let id = request.header("webhook-id"), let timestamp = request.header("webhook-timestamp"),
                let signature = request.header("webhook-signature")
            else {
                Issue.record("a delivery without its Standard Webhooks headers")
                return nil
            }
            let expected = HMAC.sha256(
                key: SecretBytes(copying: secretBytes, storage: .transient),
                message: Array("\(id).\(timestamp).".utf8) + request.body)
            #expect(signature == "v1," + expected.withUnsafeBytes { Base64.encode($0) }, "signature of \(id)")
            #expect(request.method == "POST")
            #expect(request.uri == "/hooks/credsd")
            #expect(abs((Int(timestamp) ?? 0) - Int(Date().timeIntervalSince1970)) < 120)
            guard let event = try? JSONValue.parse(request.body) else { return nil }
            return event
        }
    }

    private static func types(_ events: [JSONValue]) -> [String] {
        events.map { "\($0["type"]?.stringValue ?? "") \($0["workspaceId"]?.stringValue ?? "")" }
    }

    @Test("each event is POSTed once, signed, with a stable id; stats count it; no secret in a body")
    func signedDelivery() throws {
        let receiver = try FakeHTTPServer()
        let (daemon, secrets) = try Self.daemon(receiver)
        defer { _ = secrets }
        try daemon.addWriter()
        let id = try daemon.upsert(provider: "fal", payload: ["apiKey": "fal_webhook_key"])
        try daemon.adminCall("connections.revoke", ["connectionId": .string(id), "actor": "alice"])
        try eventually {
            guard receiver.requests.count >= 2 else { throw Pending() }
        }
        let events = Self.accepted(receiver)
        #expect(Self.types(events) == ["connection.created ws1", "connection.status_changed ws1"])
        let ids = receiver.requests.compactMap { $0.header("webhook-id") }
        #expect(Set(ids).count == 2)
        #expect(ids.allSatisfy { $0.hasPrefix("evt_") && $0.hasSuffix("_\(ids.firstIndex(of: $0)! + 1)") })
        for request in receiver.requests {
            #expect(!String(decoding: request.body, as: UTF8.self).contains("fal_webhook_key"))
        }
        // The next pass finds nothing left.
        let stats = try eventually {
            let stats = try daemon.adminCall("stats")["webhooks"]
            guard stats?["backlog"] == 0 else { throw Pending() }
            return stats
        }
        #expect(stats?["delivered"] == 2)
        #expect(stats?["dropped"] == 0)
        #expect(!daemon.daemonLog.contains(Self.secretBytes.withUnsafeBytes { Base64.encode($0) }))
    }

    @Test("failures are retried with backoff; one workspace's failing events wait while the others go on, in order")
    func retriesAndOrder() throws {
        let failing = Mutex<Set<String>>(["ws1"])
        let receiver = try FakeHTTPServer { request in
            let workspace = (try? JSONValue.parse(request.body))?["workspaceId"]?.stringValue ?? ""
            return failing.withLock { $0.contains(workspace) }
                ? FakeHTTPServer.Response(status: 500, body: "{}") : FakeHTTPServer.Response(status: 200, body: "{}")
        }
        let (daemon, secrets) = try Self.daemon(receiver)
        defer { _ = secrets }
        try daemon.addWriter()
        try daemon.addWriter(workspace: "ws2")
        for index in 0..<3 {
            try daemon.upsert(provider: "fal", payload: ["apiKey": .string("fal_order_1_\(index)")])
            try daemon.upsert(provider: "fal", payload: ["apiKey": .string("fal_order_2_\(index)")], workspace: "ws2")
        }
        // ws2's three arrive while ws1's first keeps failing.
        try eventually {
            let ok = receiver.requests.filter {
                (try? JSONValue.parse($0.body))?["workspaceId"] == "ws2"
            }
            guard ok.count == 3 else { throw Pending() }
        }
        // ws1's first event is tried again after a backoff (about a second), never its later ones ahead of it.
        let tried = try eventually {
            let tried = receiver.requests.filter { (try? JSONValue.parse($0.body))?["workspaceId"] == "ws1" }
            guard tried.count >= 2 else { throw Pending() }
            return tried
        }
        #expect(Set(tried.map { (try? JSONValue.parse($0.body))?["seq"] }).count == 1)
        failing.withLock { $0 = [] }
        try eventually(within: 20) {
            let delivered = try daemon.adminCall("stats")["webhooks"]?["delivered"]?.intValue ?? 0
            guard delivered == 6 else { throw Pending() }
        }
        let ws1Seqs = receiver.requests.compactMap { request -> Int64? in
            let event = try? JSONValue.parse(request.body)
            return event?["workspaceId"] == "ws1" ? event?["seq"]?.intValue : nil
        }
        // In order: every number at least the one before (a retry repeats it), ending with all three.
        #expect(zip(ws1Seqs, ws1Seqs.dropFirst()).allSatisfy { $0 <= $1 }, "\(ws1Seqs)")
        #expect(Set(ws1Seqs).count == 3)
        let stats = try daemon.adminCall("stats")["webhooks"]
        #expect((stats?["failedAttempts"]?.intValue ?? 0) >= 2)
        #expect(stats?["lastError"] == "HTTP 500")
    }

    @Test("events not yet delivered when the daemon stops are delivered after it starts again")
    func afterRestart() throws {
        let down = Mutex(true)
        let receiver = try FakeHTTPServer { _ in
            down.withLock { $0 }
                ? FakeHTTPServer.Response(status: 503, body: "{}") : FakeHTTPServer.Response(status: 200, body: "{}")
        }
        let (daemon, secrets) = try Self.daemon(receiver)
        defer { _ = secrets }
        try daemon.addWriter()
        try daemon.upsert(provider: "fal", payload: ["apiKey": "fal_restart_1"])
        try daemon.upsert(provider: "fal", payload: ["apiKey": "fal_restart_2"])
        try eventually { guard !receiver.requests.isEmpty else { throw Pending() } }
        _ = daemon.stop()
        down.withLock { $0 = false }
        let before = receiver.requests.count
        try daemon.start()
        try eventually {
            guard try daemon.adminCall("stats")["webhooks"]?["delivered"]?.intValue == 2 else { throw Pending() }
        }
        let after = receiver.requests.dropFirst(before).compactMap { try? JSONValue.parse($0.body) }
        #expect(after.map { $0["seq"]?.intValue ?? 0 } == [1, 2])
    }
}
