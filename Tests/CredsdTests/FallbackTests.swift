import CredsProtocol
import Foundation
import Testing

/// `fallbackOn` (SPEC 12): under `auto`, reported failures of the classes it lists send resolves to the platform
/// key while the workspace's key cools down; `byo` never falls back; the default falls back on nothing.
@Suite("fallbackOn: the platform key while the workspace's key cools down")
struct FallbackTests {
    private static func setPolicy(_ daemon: DaemonFixture, mode: String, fallbackOn: [String]? = nil) throws {
        var params: [String: JSONValue] = [
            "workspaceId": "ws1", "provider": "fal", "mode": .string(mode), "actor": "alice",
        ]
        if let fallbackOn { params["fallbackOn"] = .array(fallbackOn.map { .string($0) }) }
        try daemon.adminCall("policy.set", params)
    }

    private static func report(_ daemon: DaemonFixture, grant: String, outcome: String) throws {
        try daemon.resolveCall(
            "resolve.report",
            [
                "workspaceId": "ws1", "provider": "fal", "grant": .string(grant), "source": "byo",
                "outcome": .string(outcome),
            ])
    }

    private static func resolve(_ daemon: DaemonFixture, grant: String, connection: String? = nil) throws -> JSONValue {
        var params: [String: JSONValue] = ["workspaceId": "ws1", "provider": "fal", "grant": .string(grant)]
        if let connection { params["connectionId"] = .string(connection) }
        return try daemon.resolveCall("resolve", params)
    }

    @Test("auto with fallbackOn: a listed class falls back, visibly; another does not; ok comes back")
    func fallsBack() throws {
        let daemon = try DaemonFixture(builtin: ["fal": "platform-fal-fallback"])
        try daemon.addWriter()
        let id = try daemon.upsert(provider: "fal", payload: ["apiKey": "fal_fallback_own"])
        let grant = try daemon.grant()
        try Self.setPolicy(daemon, mode: "auto", fallbackOn: ["upstream_error", "rate_limited"])
        let policy = try daemon.adminCall("policy.get", ["workspaceId": "ws1", "provider": "fal", "actor": "alice"])
        #expect(policy["fallbackOn"] == ["rate_limited", "upstream_error"])
        // A class not listed: the workspace's key still serves, with its cooldown.
        try Self.report(daemon, grant: grant, outcome: "quota_exceeded")
        let stays = try Self.resolve(daemon, grant: grant)
        #expect(stays["source"] == "byo")
        #expect(stays["coolingDownUntil"]?.stringValue != nil)
        try Self.report(daemon, grant: grant, outcome: "ok")
        // A listed class: the platform's key, and why.
        try Self.report(daemon, grant: grant, outcome: "rate_limited")
        let fallback = try Self.resolve(daemon, grant: grant)
        #expect(fallback["source"] == "built_in")
        #expect(fallback["fallbackReason"] == "connection_cooling_down")
        #expect(fallback["credential"]?["apiKey"] == "platform-fal-fallback")
        #expect(fallback["builtinKeyId"]?.stringValue?.hasPrefix("bk_") == true)
        #expect(fallback["coolingDownUntil"]?.stringValue != nil)
        let explained = try daemon.adminCall("explain", ["workspaceId": "ws1", "provider": "fal", "actor": "alice"])
        #expect(explained["fallbackReason"] == "connection_cooling_down")
        // The caller who names the connection gets it.
        #expect(try Self.resolve(daemon, grant: grant, connection: id)["source"] == "byo")
        // ok: the workspace's key again.
        try Self.report(daemon, grant: grant, outcome: "ok")
        let back = try Self.resolve(daemon, grant: grant)
        #expect(back["source"] == "byo")
        #expect(back["connectionId"] == .string(id))
    }

    @Test("the default falls back on nothing; byo never falls back; bad fallbackOn is refused")
    func noFallback() throws {
        let daemon = try DaemonFixture(builtin: ["fal": "platform-fal-nofallback"])
        try daemon.addWriter()
        try daemon.upsert(provider: "fal", payload: ["apiKey": "fal_nofallback_own"])
        let grant = try daemon.grant()
        try Self.report(daemon, grant: grant, outcome: "rate_limited")
        #expect(try Self.resolve(daemon, grant: grant)["source"] == "byo")
        try Self.setPolicy(daemon, mode: "byo", fallbackOn: ["rate_limited"])
        let byo = try Self.resolve(daemon, grant: grant)
        #expect(byo["source"] == "byo")
        #expect(byo["coolingDownUntil"]?.stringValue != nil)
        #expect(reason { try Self.setPolicy(daemon, mode: "auto", fallbackOn: ["teapot"]) } == "invalid_params")
        #expect(
            reason { try Self.setPolicy(daemon, mode: "auto", fallbackOn: ["rate_limited", "rate_limited"]) }
                == "invalid_params")
        // A policy without fallbackOn reads as before, and its event names the change.
        try Self.setPolicy(daemon, mode: "auto")
        let all = try daemon.adminCall("policy.get", ["workspaceId": "ws1", "actor": "alice"])
        #expect(all["policies"]?["fal"] == "auto")
        #expect(all["fallbackOn"]?["fal"] == [])
        let events = (try daemon.adminCall("events.list")["events"]?.arrayValue ?? []).filter {
            $0["type"] == "policy.changed"
        }
        #expect(events.map { $0["to"]?.stringValue ?? "" } == ["byo (fallback on rate_limited)", "auto"])
    }

    @Test("each transition is an event: the fallback's start, and its end by an ok report or by the cooldown's end")
    func transitionEvents() throws {
        let daemon = try DaemonFixture(builtin: ["fal": "platform-fal-transitions"])
        try daemon.addWriter()
        let id = try daemon.upsert(provider: "fal", payload: ["apiKey": "fal_transitions_own"])
        let grant = try daemon.grant()
        func events() throws -> [JSONValue] {
            let all = try daemon.adminCall("events.list", ["workspaceId": "ws1", "limit": 1000])["events"]
            return (all?.arrayValue ?? []).filter {
                $0["type"] == "connection.cooling_down" || $0["type"] == "connection.recovered"
            }
        }
        try Self.setPolicy(daemon, mode: "auto", fallbackOn: ["rate_limited"])
        try Self.report(daemon, grant: grant, outcome: "rate_limited")
        #expect(try Self.resolve(daemon, grant: grant)["source"] == "built_in")
        try Self.report(daemon, grant: grant, outcome: "ok")
        #expect(try Self.resolve(daemon, grant: grant)["source"] == "byo")
        let first = try eventually {
            let found = try events()
            guard found.count == 2 else { throw Pending() }
            return found
        }
        #expect(first[0]["type"] == "connection.cooling_down")
        #expect(first[0]["from"] == "byo")
        #expect(first[0]["to"] == "built_in")
        #expect(first[0]["connectionId"] == .string(id))
        #expect(first[1]["type"] == "connection.recovered")
        #expect(first[1]["from"] == "built_in")
        #expect(first[1]["to"] == "byo")
        #expect(first[1]["reason"] == "ok_reported")
        // Another connection (a subject's cooldown is announced at most once a minute), another class.
        let second = try daemon.upsert(provider: "fal", payload: ["apiKey": "fal_transitions_second"], name: "Second")
        try Self.setPolicy(daemon, mode: "auto", fallbackOn: ["upstream_error"])
        try daemon.resolveCall(
            "resolve.report",
            [
                "workspaceId": "ws1", "provider": "fal", "grant": .string(grant), "source": "byo",
                "outcome": "upstream_error", "retryAfterSeconds": 1,
            ])
        #expect(try Self.resolve(daemon, grant: grant)["source"] == "built_in")
        // The cooldown ends by itself: the first resolve after it is served by the connection, and says so.
        usleep(1_200_000)
        #expect(try Self.resolve(daemon, grant: grant)["source"] == "byo")
        let all = try eventually {
            let found = try events()
            guard found.count == 4 else { throw Pending() }
            return found
        }
        #expect(all[2]["to"] == "built_in")
        #expect(all[2]["reason"] == "upstream_error")
        #expect(all[2]["connectionId"] == .string(second))
        #expect(all[3]["type"] == "connection.recovered")
        #expect(all[3]["reason"] == "cooldown_ended")
    }

    @Test(
        "each class on falls back, the same class off does not",
        arguments: ["rate_limited", "quota_exceeded", "upstream_error"])
    func eachClass(_ outcome: String) throws {
        let daemon = try DaemonFixture(builtin: ["fal": "platform-fal-class-\(outcome)"])
        try daemon.addWriter()
        try daemon.upsert(provider: "fal", payload: ["apiKey": .string("fal_class_own_\(outcome)")])
        let grant = try daemon.grant()
        let others = RoutingClasses.all.filter { $0 != outcome }
        try Self.setPolicy(daemon, mode: "auto", fallbackOn: others)
        try Self.report(daemon, grant: grant, outcome: outcome)
        let off = try Self.resolve(daemon, grant: grant)
        #expect(off["source"] == "byo")
        #expect(off["coolingDownUntil"]?.stringValue != nil)
        try Self.setPolicy(daemon, mode: "auto", fallbackOn: [outcome])
        let on = try Self.resolve(daemon, grant: grant)
        #expect(on["source"] == "built_in")
        #expect(on["fallbackReason"] == "connection_cooling_down")
        // built_in never uses the workspace's key; byo never falls back.
        try Self.setPolicy(daemon, mode: "byo", fallbackOn: [outcome])
        #expect(try Self.resolve(daemon, grant: grant)["source"] == "byo")
        try Self.setPolicy(daemon, mode: "built_in", fallbackOn: [outcome])
        let builtIn = try Self.resolve(daemon, grant: grant)
        #expect(builtIn["source"] == "built_in")
        #expect(builtIn["fallbackReason"] == nil)
    }
}

/// The outcome classes `fallbackOn` takes that cool a key down.
private enum RoutingClasses {
    static let all = ["rate_limited", "quota_exceeded", "upstream_error"]
}
