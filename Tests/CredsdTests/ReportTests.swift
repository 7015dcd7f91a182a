import CredsClient
import CredsProtocol
import Foundation
import Testing

/// `resolve.report` (SPEC 11): executors say what providers answered; credsd puts a refused API key in `error`,
/// cools down a throttled credential, and records each transition as an event.
@Suite("resolve.report: refused keys, cooldowns, events")
struct ReportTests {
    private static func report(
        _ daemon: DaemonFixture,
        grant: String,
        outcome: String,
        source: String = "byo",
        extra: [String: JSONValue] = [:]
    ) throws {
        var params: [String: JSONValue] = [
            "workspaceId": "ws1", "provider": "fal", "grant": .string(grant), "source": .string(source),
            "outcome": .string(outcome),
        ]
        params.merge(extra) { _, new in new }
        let answer = try daemon.resolveCall("resolve.report", params)
        #expect(answer == .object([:]))
    }

    private static func events(_ daemon: DaemonFixture, type: String) throws -> [JSONValue] {
        (try daemon.adminCall("events.list", ["limit": 1000])["events"]?.arrayValue ?? []).filter {
            $0["type"] == .string(type)
        }
    }

    private static func resolve(_ daemon: DaemonFixture, grant: String) throws -> JSONValue {
        try daemon.resolveCall("resolve", ["workspaceId": "ws1", "provider": "fal", "grant": .string(grant)])
    }

    @Test("three unauthorized reports within 5 minutes put an API key in error, with one status_changed event")
    func unauthorizedThreeTimes() throws {
        let daemon = try DaemonFixture()
        try daemon.addWriter()
        let id = try daemon.upsert(provider: "fal", payload: ["apiKey": "fal_report_refused"])
        let grant = try daemon.grant()
        try Self.report(daemon, grant: grant, outcome: "unauthorized", extra: ["httpStatus": 401])
        try Self.report(daemon, grant: grant, outcome: "unauthorized", extra: ["httpStatus": 401])
        // An ok in between: the key works after all, the count starts again.
        try Self.report(daemon, grant: grant, outcome: "ok")
        try Self.report(daemon, grant: grant, outcome: "unauthorized", extra: ["httpStatus": 401])
        try Self.report(daemon, grant: grant, outcome: "unauthorized", extra: ["httpStatus": 401])
        let meanwhile = try daemon.adminCall("connections.get", ["connectionId": .string(id), "actor": "alice"])
        #expect(meanwhile["connection"]?["status"] == "active")
        try Self.report(
            daemon, grant: grant, outcome: "unauthorized",
            extra: ["httpStatus": 403, "connectionId": .string(id)])
        let connection = try daemon.adminCall("connections.get", ["connectionId": .string(id), "actor": "alice"])[
            "connection"]
        #expect(connection?["status"] == "error")
        let lastError = connection?["lastError"]?.stringValue ?? ""
        #expect(lastError.contains("refused this key 3 times within 5 minutes (HTTP 403)"), "\(lastError)")
        let changed = try Self.events(daemon, type: "connection.status_changed")
        #expect(changed.count == 1)
        #expect(changed.first?["from"] == "active")
        #expect(changed.first?["to"] == "error")
        #expect(changed.first?["reason"] == "unauthorized_reports")
        #expect(changed.first?["connectionId"] == .string(id))
        // Nothing more happens to a connection already in error; resolve no longer hands it out.
        try Self.report(daemon, grant: grant, outcome: "unauthorized", extra: ["connectionId": .string(id)])
        #expect(try Self.events(daemon, type: "connection.status_changed").count == 1)
        #expect(reason { try Self.resolve(daemon, grant: grant) } == "no_credential")
        // A new key stored: active again, and recovered.
        try daemon.adminCall(
            "connections.upsert",
            [
                "workspaceId": "ws1", "provider": "fal", "displayName": "Key", "connectionId": .string(id),
                "credentialPayload": ["apiKey": "fal_report_replaced"], "actor": "alice",
            ])
        daemon.remember("fal_report_replaced")
        #expect(try Self.events(daemon, type: "connection.recovered").count == 1)
        // Reports about the old key do not count against the new one: two before a key change and one after
        // leave it active.
        try Self.report(daemon, grant: grant, outcome: "unauthorized")
        try Self.report(daemon, grant: grant, outcome: "unauthorized")
        try daemon.adminCall(
            "connections.upsert",
            [
                "workspaceId": "ws1", "provider": "fal", "displayName": "Key", "connectionId": .string(id),
                "credentialPayload": ["apiKey": "fal_report_third"], "actor": "alice",
            ])
        daemon.remember("fal_report_third")
        try Self.report(daemon, grant: grant, outcome: "unauthorized")
        let third = try daemon.adminCall("connections.get", ["connectionId": .string(id), "actor": "alice"])
        #expect(third["connection"]?["status"] == "active")
        let all = String(decoding: try daemon.adminCall("events.list").serialized(), as: UTF8.self)
        #expect(!all.contains("fal_report_refused") && !all.contains("fal_report_replaced"))
    }

    @Test("rate_limited cools a connection down: coolingDownUntil in resolves, one event, ok ends it")
    func cooldown() throws {
        let daemon = try DaemonFixture()
        try daemon.addWriter()
        let id = try daemon.upsert(provider: "fal", payload: ["apiKey": "fal_report_throttled"])
        let grant = try daemon.grant()
        #expect(try Self.resolve(daemon, grant: grant)["coolingDownUntil"] == nil)
        let before = Date()
        try Self.report(daemon, grant: grant, outcome: "rate_limited", extra: ["retryAfterSeconds": 120])
        let answer = try Self.resolve(daemon, grant: grant)
        #expect(answer["connectionId"] == .string(id))
        #expect(answer["source"] == "byo")
        let until = try #require(answer["coolingDownUntil"]?.stringValue.flatMap { Timestamp.parse($0) })
        let seconds = Double(until.microseconds) / 1e6 - before.timeIntervalSince1970
        #expect(seconds > 110 && seconds < 130, "\(seconds)")
        // Another report while cooling: the cooldown may grow, but it is still one event.
        try Self.report(daemon, grant: grant, outcome: "upstream_error", extra: ["httpStatus": 503])
        let cooling = try Self.events(daemon, type: "connection.cooling_down")
        #expect(cooling.count == 1)
        #expect(cooling.first?["connectionId"] == .string(id))
        #expect(cooling.first?["reason"] == "rate_limited")
        try Self.report(daemon, grant: grant, outcome: "ok")
        #expect(try Self.resolve(daemon, grant: grant)["coolingDownUntil"] == nil)
        // A huge retryAfterSeconds is held to an hour, never trapped on.
        try Self.report(
            daemon, grant: grant, outcome: "quota_exceeded", extra: ["retryAfterSeconds": .int(Int64.max)])
        let capped = try #require(
            try Self.resolve(daemon, grant: grant)["coolingDownUntil"]?.stringValue.flatMap { Timestamp.parse($0) })
        #expect(Double(capped.microseconds) / 1e6 - Date().timeIntervalSince1970 <= 3_600)
        // A new cooldown within a minute of the last one announced is not announced again (ok/rate_limited
        // alternating cannot flood the outbox).
        #expect(try Self.events(daemon, type: "connection.cooling_down").count == 1)
    }

    @Test("the platform's key cools down on a built_in report: with no other key, rate_limited for that workspace")
    func builtinCooldown() throws {
        let daemon = try DaemonFixture(builtin: ["fal": "platform-fal-report"])
        try daemon.addWriter()
        let grant = try daemon.grant()
        try Self.report(daemon, grant: grant, outcome: "rate_limited", source: "built_in")
        // A pool of one, cooling: the workspace is told when to come back (SPEC 12).
        do {
            _ = try Self.resolve(daemon, grant: grant)
            Issue.record("a resolve with every platform key cooling down answered")
        } catch CredsClientError.remote(let error) {
            #expect(error.reason == "rate_limited")
            let wait = error.data["retryAfterSeconds"]?.intValue ?? 0
            #expect(wait >= 1 && wait <= 60, "\(wait)")
        }
        let event = try Self.events(daemon, type: "connection.cooling_down").first
        #expect(event?["connectionId"] == .null)
        #expect(event?["provider"] == "fal")
        // Another workspace served the same platform key is not affected: one workspace's executors cannot
        // throttle the key for everyone.
        let otherGrant = try daemon.grant(workspace: "ws2")
        let other = try daemon.resolveCall(
            "resolve", ["workspaceId": "ws2", "provider": "fal", "grant": .string(otherGrant)])
        #expect(other["source"] == "built_in")
        #expect(other["builtinKeyId"]?.stringValue?.hasPrefix("bk_") == true)
        // A workspace with a key of its own is not affected by the platform key's cooldown.
        let id = try daemon.upsert(provider: "fal", payload: ["apiKey": "fal_report_own"])
        let own = try Self.resolve(daemon, grant: grant)
        #expect(own["connectionId"] == .string(id))
        #expect(own["coolingDownUntil"] == nil)
    }

    @Test("reports are checked like resolves: grants, workspaces, connections, params")
    func refusals() throws {
        let daemon = try DaemonFixture()
        try daemon.addWriter()
        try daemon.addWriter(workspace: "ws2")
        let other = try daemon.upsert(provider: "fal", payload: ["apiKey": "fal_report_ws2"], workspace: "ws2")
        let grant = try daemon.grant()
        let base: [String: JSONValue] = [
            "workspaceId": "ws1", "provider": "fal", "grant": .string(grant), "source": "byo", "outcome": "ok",
        ]
        func refusal(_ change: [String: JSONValue], dropping: String? = nil) -> String? {
            var params = base
            params.merge(change) { _, new in new }
            if let dropping { params.removeValue(forKey: dropping) }
            return reason { try daemon.resolveCall("resolve.report", params) }
        }
        #expect(refusal([:], dropping: "grant") == "grant_required")
        #expect(refusal(["grant": "cg_forged"]) == "grant_invalid")
        #expect(refusal(["workspaceId": "ws2"]) == "forbidden")
        // A connection of another workspace, named under this workspace's grant: not found, nothing changes.
        #expect(refusal(["connectionId": .string(other), "outcome": "unauthorized"]) == "not_found")
        #expect(refusal([:]) == "no_credential")
        #expect(refusal(["source": "built_in"]) == "builtin_unavailable")
        #expect(refusal(["outcome": "teapot"]) == "invalid_params")
        #expect(refusal(["source": "mine"]) == "invalid_params")
        #expect(refusal([:], dropping: "outcome") == "invalid_params")
        #expect(refusal(["httpStatus": 700]) == "invalid_params")
        #expect(refusal(["retryAfterSeconds": -1]) == "invalid_params")
        #expect(refusal(["units": -5]) == "invalid_params")
        #expect(refusal(["connectionId": "c1", "source": "built_in"]) == "invalid_params")
        #expect(refusal(["builtinKeyId": "k1"]) == "invalid_params")
        #expect(refusal(["provider": "nope"]) != nil)
        #expect(reason { try daemon.adminCall("resolve.report", base) } == "method_not_found")
        let otherConnection = try daemon.adminCall(
            "connections.get", ["connectionId": .string(other), "actor": "alice"])
        #expect(otherConnection["connection"]?["status"] == "active")
    }

    @Test("unauthorized about an OAuth connection: 10 reports at once make one refresh; a refused one means error")
    func oauthForcedRefresh() throws {
        let provider = try FakeOAuthProvider()
        let daemon = try DaemonFixture(configExtra: "[resolve]\nrequireGrant = false\n\n" + provider.configSections())
        daemon.remember(FakeOAuthProvider.clientSecret)
        daemon.remember(FakeOAuthProvider.githubClientSecret)
        try daemon.addWriter()
        try daemon.addWriter(workspace: "ws2")
        provider.configure {
            $0.refreshTokens.insert("1//report-refresh")
            $0.refreshDelay = 0.2
        }
        func connect(_ workspace: String, refreshToken: String) throws -> String {
            daemon.remember(refreshToken)
            let result = try daemon.adminCall(
                "connections.upsert",
                [
                    "workspaceId": .string(workspace), "provider": "google-workspace", "displayName": "Drive",
                    "actor": "alice",
                    "credentialPayload": [
                        "accessToken": "ya29.report-before", "refreshToken": .string(refreshToken),
                        "expiresAt": .string(ISO8601DateFormatter().string(from: Date().addingTimeInterval(3_600))),
                        "scopes": ["https://www.googleapis.com/auth/drive.file"],
                    ],
                ])
            return try #require(result["connection"]?["id"]?.stringValue)
        }
        let id = try connect("ws1", refreshToken: "1//report-refresh")
        let google: [String: JSONValue] = ["workspaceId": "ws1", "provider": "google-workspace"]
        #expect(try daemon.resolveCall("resolve", google)["credential"]?["accessToken"] == "ya29.report-before")
        #expect(provider.read { $0.refreshCalls } == 0)
        var report = google
        report["source"] = "byo"
        report["outcome"] = "unauthorized"
        report["httpStatus"] = 401
        let failures = Failures()
        let sent = report
        DispatchQueue.concurrentPerform(iterations: 10) { _ in
            do { try daemon.resolveCall("resolve.report", sent) } catch { failures.add("\(error)") }
        }
        #expect(failures.all.isEmpty, "\(failures.all)")
        #expect(provider.read { $0.refreshCalls } == 1)
        let fresh = try daemon.resolveCall("resolve", google)["credential"]?["accessToken"]?.stringValue
        #expect(fresh != nil && fresh != "ya29.report-before")
        // Within the minute another report asks nothing of the provider.
        try daemon.resolveCall("resolve.report", report)
        #expect(provider.read { $0.refreshCalls } == 1)
        // A connection whose refresh token the provider no longer honours: the forced refresh is refused, and the
        // connection is in error, with its events.
        let broken = try connect("ws2", refreshToken: "1//report-revoked")
        var brokenReport = report
        brokenReport["workspaceId"] = "ws2"
        try daemon.resolveCall("resolve.report", brokenReport)
        let status = try daemon.adminCall("connections.get", ["connectionId": .string(broken), "actor": "alice"])
        #expect(status["connection"]?["status"] == "error")
        let types = (try daemon.adminCall("events.list", ["workspaceId": "ws2"])["events"]?.arrayValue ?? []).map {
            $0["type"]?.stringValue ?? ""
        }
        #expect(types == ["connection.created", "connection.status_changed", "connection.reauth_required"])
        _ = id
    }
}
