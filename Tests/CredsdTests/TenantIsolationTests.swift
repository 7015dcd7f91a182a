import CredsClient
import CredsCrypto
import CredsProtocol
import Foundation
import Testing

/// Issue 11's reproduced attacks from outside the process, and the fixes found by reading: each test sends what
/// an attacker would and checks what the victim would notice.
@Suite("tenant isolation: crashing requests, look-alike ids, the audit trail, stored templates")
struct TenantIsolationTests {
    @Test("a svix-timestamp of -2^63 or 2^63-1 is timestamp_out_of_tolerance, and the daemon keeps serving")
    func extremeWebhookTimestamps() throws {
        let daemon = try DaemonFixture(mode: .process)
        try daemon.addWriter()
        try daemon.upsert(
            provider: "resend",
            payload: ["apiKey": "re_abc", "webhookSecret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"])
        let grant = try daemon.grant()
        for timestamp in ["-9223372036854775808", "9223372036854775807", "-1"] {
            let answer = reason {
                try daemon.resolveCall(
                    "events.verify",
                    [
                        "workspaceId": "ws1", "provider": "resend", "grant": .string(grant), "body": "{}",
                        "headers": [
                            "svix-id": "msg_1", "svix-timestamp": .string(timestamp), "svix-signature": "v1,AAAA",
                        ],
                    ])
            }
            #expect(answer == "timestamp_out_of_tolerance", "\(timestamp)")
        }
        #expect(try daemon.resolveCall("health")["status"] != nil)
        #expect(daemon.pid.map { kill($0, 0) == 0 } == true)
    }

    @Test("look-alike workspace ids (KELVIN SIGN) are invalid_params everywhere, before any lookup")
    func lookAlikeIds() throws {
        let daemon = try DaemonFixture()
        try daemon.addWriter(workspace: "ws_Kx9")
        try daemon.upsert(provider: "fal", payload: ["apiKey": "fal-victim-key"], workspace: "ws_Kx9")
        let lookAlike = "ws_\u{212A}x9"
        #expect(lookAlike == "ws_Kx9", "Swift String == treats these as equal: the hole being closed")
        #expect(
            reason { try daemon.adminCall("grants.issue", ["workspaceId": .string(lookAlike)]) } == "invalid_params")
        #expect(
            reason {
                try daemon.adminCall(
                    "members.set", ["workspaceId": .string(lookAlike), "principal": "mallory", "role": "write"])
            } == "invalid_params")
        #expect(
            reason {
                try daemon.adminCall("members.set", ["workspaceId": "ws1", "principal": "m\u{212A}", "role": "write"])
            } == "invalid_params")
        let grant = try daemon.grant(workspace: "ws_Kx9")
        #expect(
            reason {
                try daemon.resolveCall(
                    "resolve", ["workspaceId": .string(lookAlike), "provider": "fal", "grant": .string(grant)])
            } == "invalid_params")
        #expect(
            reason {
                try daemon.adminCall(
                    "connections.upsert",
                    [
                        "workspaceId": .string(lookAlike), "provider": "fal", "displayName": "x", "actor": "alice",
                        "credentialPayload": ["apiKey": "fal-attacker"],
                    ])
            } == "invalid_params")
        // The set and the length of ids, byte for byte.
        let longest = String(repeating: "a", count: 128)
        _ = try daemon.adminCall(
            "members.set", ["workspaceId": .string(longest), "principal": "a.b_c:d@e+f-9", "role": "read"])
        #expect(
            reason {
                try daemon.adminCall(
                    "members.set", ["workspaceId": .string(longest + "a"), "principal": "p", "role": "read"])
            } == "invalid_params")
        for bad in ["", "ws 1", "ws/1", "ws\u{0}1", "wś1", "ws\u{FF0B}1"] {
            #expect(
                reason { try daemon.adminCall("members.list", ["workspaceId": .string(bad)]) } == "invalid_params",
                "\(bad)")
        }
        // The victim's key still resolves for the victim.
        let answer = try daemon.resolveCall(
            "resolve", ["workspaceId": "ws_Kx9", "provider": "fal", "grant": .string(grant)])
        #expect(answer["credential"]?["apiKey"] == "fal-victim-key")
    }

    @Test(
        "refused requests are audited without their fields: no 60,000-character entries, nothing planted in a workspace"
    )
    func refusedRequestsCarryNoFields() throws {
        let daemon = try DaemonFixture()
        try daemon.addWriter()
        let huge = String(repeating: "w", count: 60_000)
        let resolver = try daemon.resolver()
        for params: [String: JSONValue] in [
            ["workspaceId": .string(huge), "provider": "fal"],
            ["workspaceId": "ws1", "provider": "fal"],
            ["workspaceId": "ws1", "provider": "fal", "grant": "cg_forged"],
        ] {
            _ = reason { try resolver.call("resolve", params) }
        }
        try resolver.sendFrame(Array("{not json".utf8))
        _ = try resolver.readAnswer()
        // Resolve-socket entries are appended after the answer: wait until all four are there.
        var entries: [JSONValue] = []
        for _ in 0..<100 {
            entries = try daemon.adminCall("audit.list", ["limit": 1000])["entries"]?.arrayValue ?? []
            if entries.filter({ $0["socket"] == "resolve" }).count >= 4 { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        let refused = entries.filter { $0["socket"] == "resolve" }
        #expect(
            refused.map { $0["outcome"]?.stringValue ?? "" } == [
                "invalid_params", "grant_required", "grant_invalid", "parse_error",
            ])
        for entry in refused {
            #expect(entry["workspaceId"] == .null)
            #expect(entry["provider"] == .null)
            #expect(entry["peerUid"] == .int(Int64(getuid())))
        }
        #expect(refused.last?["method"] == "unknown")
        #expect(
            try daemon.adminCall("audit.list", ["workspaceId": "ws1"])["entries"]?.arrayValue?.allSatisfy {
                $0["socket"] == "admin"
            } == true)
        let text = String(decoding: JSONValue.array(entries).serialized(), as: UTF8.self)
        #expect(text.count < 20_000)
        #expect(try daemon.adminCall("audit.verify")["ok"] == true)
    }

    @Test("refusals past 100 a second from one uid become one suppressed entry; every refusal is accounted for")
    func refusalsAreRateLimited() throws {
        let daemon = try DaemonFixture()
        let sent = 2_000
        let frame = Frame.encode(
            Array(#"{"jsonrpc":"2.0","id":1,"method":"resolve","params":{"workspaceId":"ws1","provider":"fal"}}"#.utf8))
        let client = try daemon.resolver()
        let started = Date()
        try client.sendRaw(Array((0..<sent).map { _ in frame }.joined()))
        for _ in 0..<sent { #expect(try client.readAnswer()["error"]?["data"]?["reason"] == "grant_required") }
        let elapsed = Date().timeIntervalSince(started)
        // The last second's summary is written when that second ends: poll until every refusal is accounted for.
        var recorded = 0
        var suppressed: Int64 = 0
        for _ in 0..<100 {
            let entries = try allAuditEntries(daemon)
            recorded = entries.filter { $0["outcome"] == "grant_required" }.count
            suppressed = entries.compactMap { $0["suppressed"]?.intValue }.reduce(0, +)
            if recorded + Int(suppressed) >= sent { break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        #expect(recorded + Int(suppressed) == sent)
        #expect(
            Double(recorded) <= 100 * (elapsed.rounded(.up) + 1), "\(recorded) entries for \(elapsed) s of refusals")
        #expect(try daemon.adminCall("audit.verify")["ok"] == true)
    }

    private func allAuditEntries(_ daemon: DaemonFixture) throws -> [JSONValue] {
        var entries: [JSONValue] = []
        var since: Int64 = 0
        while true {
            let page = try daemon.adminCall("audit.list", ["since": .int(since), "limit": 1000])
            let batch = page["entries"]?.arrayValue ?? []
            entries += batch
            guard batch.count == 1000, let next = page["nextSince"]?.intValue else { return entries }
            since = next
        }
    }

    @Test(
        "a refused attempt on another workspace's connection is audited under its owner; the answer names no workspace")
    func foreignConnectionAttempt() throws {
        let daemon = try DaemonFixture()
        try daemon.addWriter()
        try daemon.addWriter("mallory", workspace: "ws_evil")
        let id = try daemon.upsert(provider: "fal", payload: ["apiKey": "fal-owned-by-ws1"])
        let error = remoteError {
            try daemon.adminCall("connections.revoke", ["connectionId": .string(id), "actor": "mallory"])
        }
        #expect(error?.reason == "forbidden")
        #expect(error?.message.contains("ws1") == false)
        _ = try daemon.adminCall("connections.delete", ["connectionId": .string(id), "actor": "alice"])
        let entries = try daemon.adminCall("audit.list", ["workspaceId": "ws1"])["entries"]?.arrayValue ?? []
        let attempt = try #require(entries.first { $0["outcome"] == "forbidden" })
        #expect(attempt["actor"] == "mallory")
        #expect(attempt["connectionId"] == .string(id))
        #expect(attempt["provider"] == "fal")
        let deletion = try #require(entries.first { $0["method"] == "connections.delete" })
        #expect(deletion["workspaceId"] == "ws1")
        #expect(deletion["provider"] == "fal")
    }

    @Test("a stored key that looks like a template field is returned as written, never as another field")
    func templateInjection() throws {
        let daemon = try DaemonFixture()
        try daemon.addWriter()
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        try daemon.upsert(provider: "resend", payload: ["apiKey": "{webhookSecret}", "webhookSecret": .string(secret)])
        let answer = try daemon.resolveCall(
            "resolve", ["workspaceId": "ws1", "provider": "resend", "grant": .string(try daemon.grant())])
        #expect(answer["headers"]?["Authorization"] == "Bearer {webhookSecret}")
        #expect(!answer.serializedText.contains(secret))
    }

    @Test("expired grants are deleted by later grant writes; live ones stay")
    func expiredGrantsAreSwept() throws {
        let daemon = try DaemonFixture()
        for _ in 0..<40 { _ = try daemon.grant(ttl: 1) }
        Thread.sleep(forTimeInterval: 1.5)
        let live = try daemon.grant(ttl: 600)
        _ = try daemon.grant(ttl: 600)
        // The live grant still works (no key is configured, so the answer is about the credential, not the grant).
        #expect(
            reason {
                try daemon.resolveCall("resolve", ["workspaceId": "ws1", "provider": "fal", "grant": .string(live)])
            } == "no_credential")
        daemon.stop()
        let surgery = try StoreSurgery(dataDir: daemon.dataDir)
        defer { surgery.close() }
        #expect(try surgery.count("grants") == 2)
    }

    /// Waits until the trail accounts for `expected` refusals with `outcome` (own entries plus `suppressed`),
    /// or 10 s pass; returns (entries, summed suppressed).
    private func accountedRefusals(_ daemon: DaemonFixture, outcome: String, expected: Int) throws -> (Int, Int) {
        var recorded = 0
        var suppressed = 0
        for _ in 0..<100 {
            let entries = try allAuditEntries(daemon)
            recorded = entries.filter { $0["outcome"] == .string(outcome) }.count
            suppressed = Int(entries.compactMap { $0["suppressed"]?.intValue }.reduce(0, +))
            if recorded + suppressed >= expected { break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        return (recorded, suppressed)
    }

    @Test("without a grant, an unknown provider or a foreign connection id is grant_required and plants nothing")
    func grantBeforeAnythingElse() throws {
        let daemon = try DaemonFixture()
        let resolver = try daemon.resolver()
        #expect(
            reason {
                try resolver.call(
                    "resolve", ["workspaceId": "victim", "provider": "no-such-provider", "connectionId": "conn_FAKE"])
            } == "grant_required")
        #expect(
            reason {
                try resolver.call(
                    "events.verify",
                    [
                        "workspaceId": "victim", "provider": "no-such-provider", "body": "{}",
                        "headers": ["svix-id": "a", "svix-timestamp": "1", "svix-signature": "v1,x"],
                    ])
            } == "grant_required")
        _ = try accountedRefusals(daemon, outcome: "grant_required", expected: 2)
        let entries = try allAuditEntries(daemon)
        #expect(entries.count == 2)
        #expect(
            entries.allSatisfy { $0["workspaceId"] == .null && $0["provider"] == .null && $0["connectionId"] == .null })
    }

    @Test("a grant used on another workspace is audited under the grant's own workspace, paced like refusals")
    func foreignGrantGoesToOwnTrail() throws {
        let daemon = try DaemonFixture()
        let grant = try daemon.grant(workspace: "ws_a")
        let frame = Frame.encode(
            JSONValue.object([
                "jsonrpc": "2.0", "id": 1, "method": "resolve",
                "params": ["workspaceId": "victim", "provider": "fal", "grant": .string(grant)],
            ]).serialized())
        let client = try daemon.resolver()
        try client.sendRaw(Array((0..<400).map { _ in frame }.joined()))
        for _ in 0..<400 { #expect(try client.readAnswer()["error"]?["data"]?["reason"] == "forbidden") }
        let (recorded, suppressed) = try accountedRefusals(daemon, outcome: "forbidden", expected: 400)
        #expect(recorded + suppressed == 400)
        #expect(try daemon.adminCall("audit.list", ["workspaceId": "victim"])["entries"] == [])
        let own =
            try daemon.adminCall("audit.list", ["workspaceId": "ws_a", "limit": 1000])["entries"]?.arrayValue ?? []
        #expect(own.filter { $0["outcome"] == "forbidden" }.count == recorded)
    }

    @Test("refusals suppressed in the last second before SIGTERM are still summed up in the trail")
    func suppressedSummaryAtShutdown() throws {
        let daemon = try DaemonFixture()
        let frame = Frame.encode(
            Array(#"{"jsonrpc":"2.0","id":1,"method":"resolve","params":{"workspaceId":"ws1","provider":"fal"}}"#.utf8))
        let client = try daemon.resolver()
        try client.sendRaw(Array((0..<400).map { _ in frame }.joined()))
        for _ in 0..<400 { _ = try client.readAnswer() }
        #expect(daemon.stop() == 0)
        try daemon.start()
        let (recorded, suppressed) = try accountedRefusals(daemon, outcome: "grant_required", expected: 400)
        #expect(recorded + suppressed == 400)
    }

    @Test("a refused admin read is audited too, without its fields")
    func refusedAdminRead() throws {
        let daemon = try DaemonFixture()
        #expect(
            reason { try daemon.adminCall("connections.get", ["connectionId": "c\u{212A}", "actor": "alice"]) }
                == "invalid_params")
        _ = try accountedRefusals(daemon, outcome: "invalid_params", expected: 1)
        let entries = try daemon.adminCall("audit.list")["entries"]?.arrayValue ?? []
        let entry = try #require(entries.last)
        #expect(entry["method"] == "connections.get")
        #expect(entry["outcome"] == "invalid_params")
        #expect(entry["actor"] == .null && entry["connectionId"] == .null)
    }
}
