import CredsClient
import CredsProtocol
import Foundation
import Testing

/// Budgets of built-in use (SPEC 12): `budgets.set`/`budgets.get`, refusals at the limit, per-minute limits,
/// `budget.threshold` events, counts kept across restarts and key rotations, and the race for the last resolves.
@Suite("budgets: per-workspace limits on the platform's keys")
struct BudgetTests {
    static func setBudget(
        _ daemon: DaemonFixture, period: String = "day", maxResolves: Int64? = nil, maxUnits: Int64? = nil,
        perMinute: Int64? = nil, actor: String = "alice", workspace: String = "ws1", provider: String = "fal"
    ) throws -> JSONValue {
        var params: [String: JSONValue] = [
            "workspaceId": .string(workspace), "provider": .string(provider), "period": .string(period),
            "actor": .string(actor),
        ]
        if let maxResolves { params["maxResolves"] = .int(maxResolves) }
        if let maxUnits { params["maxUnits"] = .int(maxUnits) }
        if let perMinute { params["perMinute"] = .int(perMinute) }
        return try daemon.adminCall("budgets.set", params)
    }

    static func budget(_ daemon: DaemonFixture, provider: String? = "fal") throws -> JSONValue {
        var params: [String: JSONValue] = ["workspaceId": "ws1", "actor": "alice"]
        if let provider { params["provider"] = .string(provider) }
        return try daemon.adminCall("budgets.get", params)
    }

    static func resolve(_ daemon: DaemonFixture, grant: String, client: CredsClient? = nil) throws -> JSONValue {
        let params: [String: JSONValue] = ["workspaceId": "ws1", "provider": "fal", "grant": .string(grant)]
        if let client { return try client.call("resolve", params) }
        return try daemon.resolveCall("resolve", params)
    }

    static func builtInEvents(_ daemon: DaemonFixture) throws -> [JSONValue] {
        let events = try daemon.adminCall("events.list", ["workspaceId": "ws1", "limit": 1000])["events"]
        return (events?.arrayValue ?? []).filter { $0["type"] == "budget.threshold" }
    }

    @Test("the limit exactly: the N+1th built-in resolve is refused until the window ends; byo is not counted")
    func exactLimit() throws {
        let daemon = try DaemonFixture(builtin: ["fal": "platform-fal-budget"])
        try daemon.addWriter()
        let grant = try daemon.grant()
        let set = try Self.setBudget(daemon, maxResolves: 5)
        #expect(set["budget"]?["maxResolves"] == 5)
        #expect(set["budget"]?["perMinute"] == .null)
        for _ in 0..<5 {
            let receipt = try Self.resolve(daemon, grant: grant)
            #expect(receipt["source"] == "built_in")
        }
        let error = remoteError { try Self.resolve(daemon, grant: grant) }
        #expect(error?.reason == "budget_exhausted")
        #expect(error?.code == -32081)
        let retry = error?.data["retryAfterSeconds"]?.intValue ?? 0
        let midnight = UTCDay(.now()).adding(days: 1).start
        let untilMidnight = (midnight.microseconds - Timestamp.now().microseconds) / 1_000_000
        #expect(retry >= 1 && abs(retry - untilMidnight) <= 2)
        #expect(error?.data["resetsAt"]?.stringValue == midnight.rfc3339)
        #expect(error?.data["provider"] == "fal")
        // explain says so without spending anything.
        let explained = try daemon.adminCall("explain", ["workspaceId": "ws1", "provider": "fal", "actor": "alice"])
        #expect(explained["ok"] == false)
        #expect(explained["reason"] == "budget_exhausted")
        let got = try Self.budget(daemon)
        #expect(got["used"]?["resolves"] == 5)
        #expect(got["remaining"]?["resolves"] == 0)
        #expect(got["resetsAt"]?.stringValue == midnight.rfc3339)
        // The workspace's own key under byo: served and not counted against the budget.
        try daemon.upsert(provider: "fal", payload: ["apiKey": "fal_budget_own"])
        try daemon.adminCall(
            "policy.set", ["workspaceId": "ws1", "provider": "fal", "mode": "byo", "actor": "alice"])
        for _ in 0..<3 { #expect(try Self.resolve(daemon, grant: grant)["source"] == "byo") }
        #expect(try Self.budget(daemon)["used"]?["resolves"] == 5)
        // built_in never uses the workspace's key: refused.
        try daemon.adminCall(
            "policy.set", ["workspaceId": "ws1", "provider": "fal", "mode": "built_in", "actor": "alice"])
        #expect(reason { try Self.resolve(daemon, grant: grant) } == "budget_exhausted")
        // A higher limit admits again; the count was not started over.
        _ = try Self.setBudget(daemon, maxResolves: 6)
        #expect(try Self.resolve(daemon, grant: grant)["source"] == "built_in")
        #expect(reason { try Self.resolve(daemon, grant: grant) } == "budget_exhausted")
        // No limit at all removes the budget.
        let removed = try Self.setBudget(daemon)
        #expect(removed["budget"] == .null)
        #expect(try Self.resolve(daemon, grant: grant)["source"] == "built_in")
        #expect(try Self.budget(daemon, provider: nil)["budgets"] == [])
    }

    @Test("under auto, a spent budget leaves the call to the workspace's active key; without one it is refused")
    func autoKeepsOwnKey() throws {
        let daemon = try DaemonFixture(builtin: ["fal": "platform-fal-auto-budget"])
        try daemon.addWriter()
        let grant = try daemon.grant()
        try daemon.adminCall(
            "policy.set",
            ["workspaceId": "ws1", "provider": "fal", "mode": "auto", "fallbackOn": ["rate_limited"], "actor": "alice"])
        _ = try Self.setBudget(daemon, maxResolves: 1)
        #expect(try Self.resolve(daemon, grant: grant)["fallbackReason"] == "no_connection")
        #expect(reason { try Self.resolve(daemon, grant: grant) } == "budget_exhausted")
        let id = try daemon.upsert(provider: "fal", payload: ["apiKey": "fal_auto_budget_own"])
        try daemon.resolveCall(
            "resolve.report",
            [
                "workspaceId": "ws1", "provider": "fal", "grant": .string(grant), "source": "byo",
                "outcome": "rate_limited",
            ])
        // Cooling down with fallbackOn would fall back, but the budget is spent: the workspace's key serves.
        let served = try Self.resolve(daemon, grant: grant)
        #expect(served["source"] == "byo")
        #expect(served["connectionId"] == .string(id))
        #expect(served["coolingDownUntil"]?.stringValue != nil)
        // With budget left, the fallback takes the platform key.
        _ = try Self.setBudget(daemon, maxResolves: 2)
        let fallback = try Self.resolve(daemon, grant: grant)
        #expect(fallback["source"] == "built_in")
        #expect(fallback["fallbackReason"] == "connection_cooling_down")
        #expect(try Self.budget(daemon)["used"]?["resolves"] == 2)
    }

    @Test("perMinute: rate_limited within the minute, with the seconds to the next")
    func perMinute() throws {
        let daemon = try DaemonFixture(builtin: ["fal": "platform-fal-per-minute"])
        try daemon.addWriter()
        let grant = try daemon.grant()
        _ = try Self.setBudget(daemon, maxResolves: 1_000, perMinute: 3)
        // A round that crosses a minute boundary proves nothing: it is run again.
        for _ in 0..<3 {
            let minute = Timestamp.now().seconds / 60
            var served = 0
            var refusal: CredsRemoteError?
            for _ in 0..<4 {
                do {
                    _ = try Self.resolve(daemon, grant: grant)
                    served += 1
                } catch CredsClientError.remote(let error) {
                    refusal = error
                }
            }
            guard Timestamp.now().seconds / 60 == minute else { continue }
            #expect(served <= 3)
            #expect(refusal?.reason == "rate_limited")
            let retry = refusal?.data["retryAfterSeconds"]?.intValue ?? 0
            #expect((1...60).contains(retry))
            #expect(refusal?.data["limit"] == "perMinute")
            #expect(try Self.budget(daemon)["used"]?["thisMinute"] == 3)
            return
        }
        Issue.record("every round crossed a minute boundary")
    }

    @Test("budget.threshold at 80 % and at 100 %, once each")
    func thresholds() throws {
        let daemon = try DaemonFixture(builtin: ["fal": "platform-fal-thresholds"])
        try daemon.addWriter()
        let grant = try daemon.grant()
        _ = try Self.setBudget(daemon, period: "month", maxResolves: 10)
        for _ in 0..<7 { _ = try Self.resolve(daemon, grant: grant) }
        #expect(try Self.builtInEvents(daemon).isEmpty)
        _ = try Self.resolve(daemon, grant: grant)
        let eighty = try eventually {
            let events = try Self.builtInEvents(daemon)
            guard events.count == 1 else { throw Pending() }
            return events[0]
        }
        #expect(eighty["to"] == "80%")
        #expect(eighty["reason"] == "max_resolves")
        #expect(eighty["provider"] == "fal")
        #expect(eighty["detail"]?.stringValue?.contains("8 of 10") == true)
        for _ in 0..<2 { _ = try Self.resolve(daemon, grant: grant) }
        for _ in 0..<3 { #expect(reason { try Self.resolve(daemon, grant: grant) } == "budget_exhausted") }
        let both = try eventually {
            let events = try Self.builtInEvents(daemon)
            guard events.count >= 2 else { throw Pending() }
            return events
        }
        usleep(100_000)
        #expect(try Self.builtInEvents(daemon).count == 2)
        #expect(both[1]["to"] == "100%")
        let got = try Self.budget(daemon)
        #expect(got["resetsAt"]?.stringValue == UTCDay(.now()).nextMonthStart.start.rfc3339)
    }

    @Test("units from reports count against maxUnits; byo units do not")
    func units() throws {
        let daemon = try DaemonFixture(builtin: ["fal": "platform-fal-units"])
        try daemon.addWriter()
        let grant = try daemon.grant()
        _ = try Self.setBudget(daemon, maxUnits: 100)
        func report(_ source: String, _ units: Int64) throws {
            try daemon.resolveCall(
                "resolve.report",
                [
                    "workspaceId": "ws1", "provider": "fal", "grant": .string(grant), "source": .string(source),
                    "outcome": "ok", "units": .int(units),
                ])
        }
        _ = try Self.resolve(daemon, grant: grant)
        try report("built_in", 85)
        #expect(try Self.budget(daemon)["used"]?["units"] == 85)
        _ = try Self.resolve(daemon, grant: grant)
        try report("built_in", 15)
        let refusal = remoteError { try Self.resolve(daemon, grant: grant) }
        #expect(refusal?.reason == "budget_exhausted")
        #expect(refusal?.data["limit"] == "maxUnits")
        let events = try eventually {
            let events = try Self.builtInEvents(daemon)
            guard events.count == 2 else { throw Pending() }
            return events
        }
        #expect(events.map { $0["reason"] } == ["max_units", "max_units"])
        #expect(events.map { $0["to"] } == ["80%", "100%"])
        // Huge numbers saturate, never trap.
        try report("built_in", Int64.max)
        try report("built_in", Int64.max)
        #expect(try Self.budget(daemon)["used"]?["units"] == .int(Int64.max))
    }

    @Test("counts survive a restart and a key rotation; setting the budget again resets nothing")
    func durable() throws {
        let daemon = try DaemonFixture(builtinPools: ["fal": ["platform-fal-durable-1"]])
        try daemon.addWriter()
        let grant = try daemon.grant()
        _ = try Self.setBudget(daemon, maxResolves: 10)
        for _ in 0..<3 { _ = try Self.resolve(daemon, grant: grant) }
        try daemon.restart()
        #expect(try Self.budget(daemon)["used"]?["resolves"] == 3)
        daemon.setBuiltinPools(["fal": ["platform-fal-durable-2", "platform-fal-durable-3"]])
        daemon.reload()
        try eventually {
            let key = try Self.resolve(daemon, grant: grant)["credential"]?["apiKey"]
            guard key == "platform-fal-durable-2" || key == "platform-fal-durable-3" else { throw Pending() }
        }
        _ = try Self.setBudget(daemon, maxResolves: 10)
        let used = try Self.budget(daemon)["used"]?["resolves"]?.intValue ?? 0
        #expect(used >= 4)
        for _ in used..<10 { _ = try Self.resolve(daemon, grant: grant) }
        #expect(reason { try Self.resolve(daemon, grant: grant) } == "budget_exhausted")
        try daemon.restart()
        #expect(reason { try Self.resolve(daemon, grant: grant) } == "budget_exhausted")
        #expect(try Self.budget(daemon)["used"]?["resolves"] == 10)
    }

    @Test("64 connections racing for the last resolves of a budget take exactly what is left")
    func race() throws {
        let daemon = try DaemonFixture(builtin: ["fal": "platform-fal-race"])
        try daemon.addWriter()
        let grant = try daemon.grant()
        _ = try Self.setBudget(daemon, maxResolves: 100)
        for _ in 0..<40 { _ = try Self.resolve(daemon, grant: grant) }
        let served = SharedCount()
        let refused = SharedCount()
        let other = SharedCount()
        // 64 threads, each with its own connection: every connection is open before any of them asks.
        let opened = DispatchGroup()
        let finished = DispatchGroup()
        for _ in 0..<64 {
            opened.enter()
            finished.enter()
        }
        for _ in 0..<64 {
            Thread {
                defer { finished.leave() }
                let client = try? daemon.resolver()
                opened.leave()
                opened.wait()
                guard let client else { return other.add() }
                for _ in 0..<5 {
                    do {
                        _ = try Self.resolve(daemon, grant: grant, client: client)
                        served.add()
                    } catch CredsClientError.remote(let error) where error.reason == "budget_exhausted" {
                        refused.add()
                    } catch {
                        other.add()
                    }
                }
            }.start()
        }
        #expect(finished.wait(timeout: .now() + 60) == .success)
        #expect(other.value == 0)
        #expect(served.value == 60)
        #expect(refused.value == 320 - 60)
        #expect(try Self.budget(daemon)["used"]?["resolves"] == 100)
    }

    @Test("who may set and read budgets, and invalid params")
    func actorsAndParams() throws {
        let daemon = try DaemonFixture(builtin: ["fal": "platform-fal-actors"])
        try daemon.addWriter()
        try daemon.adminCall("members.set", ["workspaceId": "ws1", "principal": "rita", "role": "read"])
        #expect(reason { try Self.setBudget(daemon, maxResolves: 1, actor: "rita") } == "forbidden")
        #expect(reason { try Self.setBudget(daemon, maxResolves: 1, actor: "mallory") } == "forbidden")
        #expect(reason { try Self.setBudget(daemon, maxResolves: 1, workspace: "ws2") } == "forbidden")
        _ = try Self.setBudget(daemon, maxResolves: 1)
        let read = try daemon.adminCall("budgets.get", ["workspaceId": "ws1", "actor": "rita"])
        #expect(read["budgets"]?.arrayValue?.count == 1)
        #expect(
            reason { try daemon.adminCall("budgets.get", ["workspaceId": "ws1", "actor": "mallory"]) } == "forbidden")
        #expect(reason { try daemon.adminCall("usage.get", ["workspaceId": "ws1", "actor": "rita"]) } == nil)
        #expect(
            reason { try daemon.adminCall("usage.get", ["workspaceId": "ws1", "actor": "mallory"]) } == "forbidden")
        #expect(reason { try Self.setBudget(daemon, period: "week", maxResolves: 1) } == "invalid_params")
        #expect(reason { try Self.setBudget(daemon, maxResolves: -1) } == "invalid_params")
        #expect(reason { try Self.setBudget(daemon, perMinute: -5) } == "invalid_params")
        #expect(reason { try Self.setBudget(daemon, maxResolves: 1, provider: "github") } == "invalid_params")
        #expect(reason { try Self.setBudget(daemon, maxResolves: 1, provider: "nope") } == "unknown_provider")
        #expect(
            reason {
                try daemon.adminCall(
                    "budgets.set",
                    [
                        "workspaceId": "ws1", "provider": "fal", "period": "day", "maxResolves": .double(1.5),
                        "actor": "alice",
                    ])
            } == "invalid_params")
        for params: [String: JSONValue] in [
            ["from": "2026-13-01"], ["to": "yesterday"], ["from": "2026-12-02", "to": "2026-12-01"],
            ["from": "2024-01-01", "to": "2026-01-01"], ["from": "2026-02-30"],
        ] {
            var call: [String: JSONValue] = ["workspaceId": "ws1", "actor": "alice"]
            call.merge(params) { _, new in new }
            #expect(reason { try daemon.adminCall("usage.get", call) } == "invalid_params")
        }
        // Never on the resolve socket.
        #expect(
            reason { try daemon.resolveCall("budgets.get", ["workspaceId": "ws1", "actor": "alice"]) }
                == "method_not_found")
    }
}

/// A count shared by threads.
final class SharedCount: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}
