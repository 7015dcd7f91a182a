import CredsProtocol
import Foundation
import Synchronization
import Testing

/// `connections.test` (SPEC 11): a live probe per provider against a local server standing in for it
/// (`[providers.<id>] baseUrl`). A clear rejection puts the key in `error`, a pass brings it back, anything that
/// proves nothing changes nothing.
@Suite("connections.test: live probes")
struct ProbeTests {
    /// The providers with a probe, the key each is given, and the header the probe must carry.
    private static let providers: [(id: String, key: String, header: String, value: String, path: String)] = [
        (
            "fal", "fal_probe_key", "Authorization", "Key fal_probe_key",
            "/v1/models/pricing?endpoint_id=fal-ai/flux/dev"
        ),
        ("gemini", "gemini_probe_key", "x-goog-api-key", "gemini_probe_key", "/v1beta/models?pageSize=1"),
        ("vercel-ai-gateway", "vck_probe_key", "Authorization", "Bearer vck_probe_key", "/v1/credits"),
        ("elevenlabs", "sk_probe_key", "xi-api-key", "sk_probe_key", "/v1/user"),
        ("resend", "re_probe_key", "Authorization", "Bearer re_probe_key", "/domains"),
    ]

    private static func daemon(_ server: FakeHTTPServer) throws -> DaemonFixture {
        let sections = providers.map { "[providers.\($0.id)]\nbaseUrl = \"\(server.baseURL)/\"\n" }.joined(
            separator: "\n")
        let daemon = try DaemonFixture(configExtra: sections)
        try daemon.addWriter()
        return daemon
    }

    private static func test(_ daemon: DaemonFixture, _ id: String) throws -> JSONValue {
        try daemon.adminCall("connections.test", ["connectionId": .string(id), "actor": "alice"])
    }

    private static func status(_ daemon: DaemonFixture, _ id: String) throws -> String? {
        try daemon.adminCall("connections.get", ["connectionId": .string(id), "actor": "alice"])["connection"]?[
            "status"]?.stringValue
    }

    @Test("each provider's probe: its path, the key in its header, 200 means ok")
    func everyProvider() throws {
        let server = try FakeHTTPServer()
        let daemon = try Self.daemon(server)
        for provider in Self.providers {
            let id = try daemon.upsert(provider: provider.id, payload: ["apiKey": .string(provider.key)])
            let answer = try Self.test(daemon, id)
            #expect(answer["ok"] == true, "\(provider.id): \(answer)")
            #expect(answer["httpStatus"] == 200)
            #expect(answer["problem"] == nil)
            #expect((answer["latencyMs"]?.intValue ?? -1) >= 0)
            #expect(answer["checkedAt"]?.stringValue.flatMap { Timestamp.parse($0) } != nil)
            let request = try #require(server.requests.last)
            #expect(request.method == "GET")
            #expect(request.uri == provider.path, "\(provider.id)")
            #expect(request.header(provider.header) == provider.value, "\(provider.id)")
        }
        // The keys never reach an event or the log.
        let events = String(decoding: try daemon.adminCall("events.list").serialized(), as: UTF8.self)
        for provider in Self.providers {
            #expect(!events.contains(provider.key))
            #expect(!daemon.daemonLog.contains(provider.key))
        }
    }

    @Test("401 and 403 put an active key in error (one event); a pass brings it back; 429, 5xx prove nothing")
    func rejectionAndRecovery() throws {
        let server = try FakeHTTPServer()
        let daemon = try Self.daemon(server)
        let id = try daemon.upsert(provider: "elevenlabs", payload: ["apiKey": "sk_probe_rejected"])
        for (status, problem) in [(429, "inconclusive"), (500, "provider_error"), (503, "provider_error")] {
            server.respond { _ in FakeHTTPServer.Response(status: status, body: "{}") }
            let answer = try Self.test(daemon, id)
            #expect(answer["ok"] == false)
            #expect(answer["problem"] == .string(problem), "\(status)")
            #expect(answer["httpStatus"] == .int(Int64(status)))
            #expect(try Self.status(daemon, id) == "active")
        }
        server.respond { _ in FakeHTTPServer.Response(status: 401, body: #"{"detail":{"status":"invalid_api_key"}}"#) }
        let rejected = try Self.test(daemon, id)
        #expect(rejected["ok"] == false)
        #expect(rejected["problem"] == "rejected")
        #expect(try Self.status(daemon, id) == "error")
        let connection = try daemon.adminCall("connections.get", ["connectionId": .string(id), "actor": "alice"])
        #expect(
            connection["connection"]?["lastError"]?.stringValue?.contains(
                "rejected this key when it was tested (HTTP 401)")
                == true)
        // A second rejection of a key already in error writes nothing more.
        server.respond { _ in FakeHTTPServer.Response(status: 403, body: "{}") }
        #expect(try Self.test(daemon, id)["problem"] == "rejected")
        server.respond { _ in FakeHTTPServer.Response(status: 200, body: "{}") }
        #expect(try Self.test(daemon, id)["ok"] == true)
        #expect(try Self.status(daemon, id) == "active")
        let types = (try daemon.adminCall("events.list")["events"]?.arrayValue ?? []).map {
            "\($0["type"]?.stringValue ?? "") \($0["reason"]?.stringValue ?? "")"
        }
        #expect(
            types == [
                "connection.created created", "connection.status_changed probe_rejected",
                "connection.status_changed probe_passed", "connection.recovered probe_passed",
            ])
    }

    @Test("Resend's sending-only key is ok but unverified; Gemini's 400 API_KEY_INVALID is a rejection")
    func providerRules() throws {
        let server = try FakeHTTPServer { request in
            if request.uri == "/domains" {
                return FakeHTTPServer.Response(
                    status: 401,
                    body: #"{"statusCode":401,"name":"restricted_api_key","message":"This API key is restricted"}"#)
            }
            return FakeHTTPServer.Response(
                status: 400,
                body: #"{"error":{"code":400,"status":"INVALID_ARGUMENT","details":[{"reason":"API_KEY_INVALID"}]}}"#)
        }
        let daemon = try Self.daemon(server)
        let resend = try daemon.upsert(provider: "resend", payload: ["apiKey": "re_sending_only"])
        let sendingOnly = try Self.test(daemon, resend)
        #expect(sendingOnly["ok"] == true)
        #expect(sendingOnly["problem"] == "unverified")
        #expect(try Self.status(daemon, resend) == "active")
        let gemini = try daemon.upsert(provider: "gemini", payload: ["apiKey": "gemini_bad_key"])
        #expect(try Self.test(daemon, gemini)["problem"] == "rejected")
        #expect(try Self.status(daemon, gemini) == "error")
    }

    @Test("a timeout or an unreachable provider changes nothing")
    func failuresOnOurSide() throws {
        let server = try FakeHTTPServer { _ in FakeHTTPServer.Response(status: 401, body: "{}", delay: 6) }
        let daemon = try Self.daemon(server)
        let id = try daemon.upsert(provider: "fal", payload: ["apiKey": "fal_probe_slow"])
        let slow = try Self.test(daemon, id)
        #expect(slow["ok"] == false)
        #expect(slow["problem"] == "timeout")
        #expect(slow["httpStatus"] == nil)
        #expect(try Self.status(daemon, id) == "active")
        let closed = try DaemonFixture(configExtra: "[providers.fal]\nbaseUrl = \"http://127.0.0.1:1\"\n")
        try closed.addWriter()
        let other = try closed.upsert(provider: "fal", payload: ["apiKey": "fal_probe_nowhere"])
        #expect(try Self.test(closed, other)["problem"] == "unreachable")
        #expect(try Self.status(closed, other) == "active")
    }

    @Test("only a writer may test; a revoked connection cannot be; a bad or unknown baseUrl is a config error")
    func refusals() throws {
        let server = try FakeHTTPServer()
        let daemon = try Self.daemon(server)
        let id = try daemon.upsert(provider: "fal", payload: ["apiKey": "fal_probe_refusals"])
        try daemon.adminCall("members.set", ["workspaceId": "ws1", "principal": "bob", "role": "read"])
        #expect(
            reason { try daemon.adminCall("connections.test", ["connectionId": .string(id), "actor": "bob"]) }
                == "forbidden")
        #expect(
            reason { try daemon.adminCall("connections.test", ["connectionId": "nope", "actor": "alice"]) }
                == "not_found")
        #expect(reason { try daemon.adminCall("connections.test", ["connectionId": .string(id)]) } == "invalid_params")
        try daemon.adminCall("connections.revoke", ["connectionId": .string(id), "actor": "alice"])
        #expect(reason { try Self.test(daemon, id) } == "connection_unavailable")
        #expect(server.requests.isEmpty)
        let check = try ProcessResult.run(
            Binaries.credsd,
            [
                "check-config", "--config",
                daemon.directory.write("bad.toml", "[providers.fal]\nbaseUrl = \"ftp://x\"\n"),
            ])
        #expect(check.status != 0)
        #expect((check.stdout + check.stderr).contains("providers.fal.baseUrl"))
        let unknown = try ProcessResult.run(
            Binaries.credsd,
            [
                "check-config", "--config",
                daemon.directory.write("unknown.toml", "[providers.github]\nbaseUrl = \"http://x\"\n"),
            ])
        #expect(unknown.status != 0)
    }

    @Test(
        "[health] probeEverySeconds re-tests active keys in the background: a key revoked at the provider goes to error"
    )
    func backgroundProbes() throws {
        let rejecting = Mutex(false)
        let server = try FakeHTTPServer { _ in
            rejecting.withLock { $0 }
                ? FakeHTTPServer.Response(status: 401, body: "{}") : FakeHTTPServer.Response(status: 200, body: "{}")
        }
        let daemon = try DaemonFixture(
            mode: .process,
            configExtra: "[health]\nprobeEverySeconds = 1\n\n[providers.elevenlabs]\nbaseUrl = \"\(server.baseURL)\"\n")
        try daemon.addWriter()
        let id = try daemon.upsert(provider: "elevenlabs", payload: ["apiKey": "sk_background_probe"])
        // Valid keys are probed and left alone.
        try eventually { guard server.requests.count >= 2 else { throw Pending() } }
        #expect(try Self.status(daemon, id) == "active")
        #expect(server.requests.allSatisfy { $0.header("xi-api-key") == "sk_background_probe" })
        // Revoked at the provider: the next round finds it.
        rejecting.withLock { $0 = true }
        try eventually { guard try Self.status(daemon, id) == "error" else { throw Pending() } }
        let changed = (try daemon.adminCall("events.list")["events"]?.arrayValue ?? []).filter {
            $0["type"] == "connection.status_changed"
        }
        #expect(changed.map { $0["reason"] } == ["probe_rejected"])
        // A connection in error is not probed again in the background (the page's Test button does that).
        let before = server.requests.count
        sleep(3)
        #expect(server.requests.count == before)
    }
}
