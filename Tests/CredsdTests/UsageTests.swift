import CredsClient
import CredsProtocol
import Foundation
import Testing

/// `usage.get` (SPEC 12): a workspace's figures per UTC day and provider after a scripted mix of resolves,
/// fallbacks, refusals and reports; kept across restarts; no workspace in the metrics.
@Suite("usage: per day and provider")
struct UsageTests {
    @Test("a scripted mix: resolves by source, fallbacks by reason, reports by outcome, units, refusals")
    func scriptedMix() throws {
        let daemon = try DaemonFixture(builtin: ["fal": "platform-fal-usage", "resend": "platform-resend-usage"])
        try daemon.addWriter()
        let grant = try daemon.grant()
        func resolve(_ provider: String) throws -> JSONValue {
            try daemon.resolveCall(
                "resolve", ["workspaceId": "ws1", "provider": .string(provider), "grant": .string(grant)])
        }
        func report(_ provider: String, _ source: String, _ outcome: String, units: Int64? = nil) throws {
            var params: [String: JSONValue] = [
                "workspaceId": "ws1", "provider": .string(provider), "grant": .string(grant),
                "source": .string(source), "outcome": .string(outcome),
            ]
            if let units { params["units"] = .int(units) }
            try daemon.resolveCall("resolve.report", params)
        }
        // fal: 3 built-in resolves without a connection, then a refusal by the budget.
        _ = try BudgetTests.setBudget(daemon, maxResolves: 3)
        for _ in 0..<3 { #expect(try resolve("fal")["fallbackReason"] == "no_connection") }
        #expect(reason { try resolve("fal") } == "budget_exhausted")
        try report("fal", "built_in", "ok", units: 40)
        // (not a class that cools the platform key down: the fallback below needs it)
        try report("fal", "built_in", "unauthorized")
        // fal with its own key: 2 byo resolves, a cooldown that falls back once.
        try daemon.upsert(provider: "fal", payload: ["apiKey": "fal_usage_own"])
        _ = try BudgetTests.setBudget(daemon, maxResolves: 10)
        for _ in 0..<2 { #expect(try resolve("fal")["source"] == "byo") }
        try daemon.adminCall(
            "policy.set",
            ["workspaceId": "ws1", "provider": "fal", "mode": "auto", "fallbackOn": ["rate_limited"], "actor": "alice"])
        try report("fal", "byo", "rate_limited", units: 5)
        #expect(try resolve("fal")["fallbackReason"] == "connection_cooling_down")
        // resend: one built-in resolve.
        _ = try resolve("resend")
        let expected: [String: JSONValue] = [
            "resolves": ["byo": 2, "built_in": 4],
            "fallbacks": ["no_connection": 3, "connection_cooling_down": 1],
            "reports": ["ok": 1, "unauthorized": 1, "rate_limited": 1],
            "units": 45, "unitsBySource": ["byo": 5, "built_in": 40],
            "refused": ["budget_exhausted": 1],
        ]
        let today = UTCDay(.now()).description
        func check(_ usage: JSONValue) {
            let days = usage["days"]?.arrayValue ?? []
            #expect(days.count == 2)
            let fal = days.first { $0["provider"] == "fal" }
            #expect(fal?["day"] == .string(today))
            for (name, value) in expected { #expect(fal?[name] == value, "\(name)") }
            let resend = days.first { $0["provider"] == "resend" }
            #expect(resend?["resolves"] == ["byo": 0, "built_in": 1])
            #expect(resend?["fallbacks"] == ["no_connection": 1])
        }
        let usage = try daemon.adminCall("usage.get", ["workspaceId": "ws1", "actor": "alice"])
        check(usage)
        #expect(usage["to"] == .string(today))
        #expect(usage["from"] == .string(UTCDay(.now()).adding(days: -29).description))
        // Stored, not only counted: the same after a restart.
        try daemon.restart()
        check(try daemon.adminCall("usage.get", ["workspaceId": "ws1", "actor": "alice"]))
        // One provider; a range without today.
        let onlyResend = try daemon.adminCall(
            "usage.get", ["workspaceId": "ws1", "provider": "resend", "actor": "alice"])
        #expect(onlyResend["days"]?.arrayValue?.count == 1)
        let yesterday = UTCDay(.now()).adding(days: -1).description
        let past = try daemon.adminCall(
            "usage.get", ["workspaceId": "ws1", "from": .string(yesterday), "to": .string(yesterday), "actor": "alice"])
        #expect(past["days"] == [])
        // Another workspace sees none of it.
        try daemon.addWriter("bob", workspace: "ws2")
        let other = try daemon.adminCall("usage.get", ["workspaceId": "ws2", "actor": "bob"])
        #expect(other["days"] == [])
    }

    @Test("the metrics carry providers and sources, never a workspace")
    func noWorkspaceLabel() throws {
        let port = HTTPGet.freePort()
        let daemon = try DaemonFixture(
            mode: .process, configExtra: "[metrics]\nlisten = \"127.0.0.1:\(port)\"\n",
            builtin: ["fal": "platform-fal-metrics"])
        try daemon.addWriter("alice", workspace: "ws-metrics-secret-name")
        let grant = try daemon.grant(workspace: "ws-metrics-secret-name")
        _ = try daemon.resolveCall(
            "resolve", ["workspaceId": "ws-metrics-secret-name", "provider": "fal", "grant": .string(grant)])
        let body = try HTTPGet.get(port: port, path: "/metrics").body
        #expect(body.contains("credsd_resolutions_total{provider=\"fal\",source=\"built_in\"}"))
        #expect(!body.contains("ws-metrics-secret-name"))
    }
}
