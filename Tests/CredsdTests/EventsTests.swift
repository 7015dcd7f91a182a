import CredsProtocol
import Foundation
import Testing

/// The event outbox (SPEC 11): every status change and policy change is an event, written in the same transaction
/// as the change, kept across restarts, listed by `events.list`, never holding a secret.
@Suite("events: the durable outbox and events.list")
struct EventsTests {
    private static func events(_ daemon: DaemonFixture, _ params: [String: JSONValue] = [:]) throws -> [JSONValue] {
        try daemon.adminCall("events.list", params)["events"]?.arrayValue ?? []
    }

    @Test("a connection created, revoked, a policy changed: one event each, in order, with their facts")
    func lifecycle() throws {
        let daemon = try DaemonFixture()
        try daemon.addWriter()
        let id = try daemon.upsert(provider: "fal", payload: ["apiKey": "fal_events_key_1"])
        try daemon.adminCall("policy.set", ["workspaceId": "ws1", "provider": "fal", "mode": "byo", "actor": "alice"])
        // The same mode again changes nothing: no event.
        try daemon.adminCall("policy.set", ["workspaceId": "ws1", "provider": "fal", "mode": "byo", "actor": "alice"])
        try daemon.adminCall("connections.revoke", ["connectionId": .string(id), "actor": "alice"])
        let events = try Self.events(daemon)
        #expect(
            events.map { $0["type"]?.stringValue ?? "" } == [
                "connection.created", "policy.changed", "connection.status_changed",
            ])
        #expect(events.map { $0["seq"]?.intValue ?? 0 } == [1, 2, 3])
        let created = events[0]
        #expect(created["workspaceId"] == "ws1")
        #expect(created["provider"] == "fal")
        #expect(created["connectionId"] == .string(id))
        #expect(created["to"] == "active")
        #expect(created["reason"] == "created")
        #expect(created["time"]?.stringValue.flatMap { Timestamp.parse($0) } != nil)
        #expect(events[1]["from"] == "auto")
        #expect(events[1]["to"] == "byo")
        #expect(events[1]["connectionId"] == .null)
        #expect(events[2]["from"] == "active")
        #expect(events[2]["to"] == "revoked")
        #expect(events[2]["reason"] == "revoked")
        // No event carries the key, in any form.
        let text = String(decoding: JSONValue.array(events).serialized(), as: UTF8.self)
        #expect(!text.contains("fal_events_key_1"))
    }

    @Test("events.list pages by since and limit, filters by workspace, refuses bad params; events survive a restart")
    func listing() throws {
        let daemon = try DaemonFixture(mode: .process)
        try daemon.addWriter()
        try daemon.addWriter(workspace: "ws2")
        for index in 0..<5 {
            try daemon.upsert(
                provider: "fal", payload: ["apiKey": .string("fal_events_page_\(index)")],
                workspace: index % 2 == 0 ? "ws1" : "ws2")
        }
        let page = try daemon.adminCall("events.list", ["since": 1, "limit": 2])
        #expect(page["events"]?.arrayValue?.map { $0["seq"]?.intValue ?? 0 } == [2, 3])
        #expect(page["nextSince"] == 3)
        let ws2 = try Self.events(daemon, ["workspaceId": "ws2"])
        #expect(ws2.map { $0["seq"]?.intValue ?? 0 } == [2, 4])
        #expect(try daemon.adminCall("events.list", ["since": 5])["nextSince"] == 5)
        #expect(reason { try daemon.adminCall("events.list", ["since": -1]) } == "invalid_params")
        #expect(reason { try daemon.adminCall("events.list", ["limit": 0]) } == "invalid_params")
        #expect(reason { try daemon.adminCall("events.list", ["limit": 1001]) } == "invalid_params")
        #expect(reason { try daemon.adminCall("events.list", ["actor": "alice"]) } == "invalid_params")
        #expect(reason { try daemon.resolveCall("events.list") } == "method_not_found")
        try daemon.restart()
        #expect(try Self.events(daemon).count == 5)
        try daemon.upsert(provider: "fal", payload: ["apiKey": "fal_events_after_restart"])
        #expect(try Self.events(daemon).last?["seq"] == 6)
    }

    @Test("a token refresh the provider fails is a refresh_failed event; the connection keeps its status")
    func refreshFailed() throws {
        let provider = try FakeOAuthProvider()
        let daemon = try DaemonFixture(configExtra: "[resolve]\nrequireGrant = false\n\n" + provider.configSections())
        daemon.remember(FakeOAuthProvider.clientSecret)
        daemon.remember(FakeOAuthProvider.githubClientSecret)
        try daemon.addWriter()
        provider.configure {
            $0.refreshTokens.insert("1//events-refresh")
            $0.behaviour = .serverError
        }
        daemon.remember("1//events-refresh")
        let result = try daemon.adminCall(
            "connections.upsert",
            [
                "workspaceId": "ws1", "provider": "google-workspace", "displayName": "Drive", "actor": "alice",
                "credentialPayload": [
                    "accessToken": "ya29.events-current", "refreshToken": "1//events-refresh",
                    "expiresAt": .string(ISO8601DateFormatter().string(from: Date().addingTimeInterval(60))),
                    "scopes": ["https://www.googleapis.com/auth/drive.file"],
                ],
            ])
        let id = try #require(result["connection"]?["id"]?.stringValue)
        // The refresh fails; the current token, still valid, answers.
        let answer = try daemon.resolveCall("resolve", ["workspaceId": "ws1", "provider": "google-workspace"])
        #expect(answer["credential"]?["accessToken"] == "ya29.events-current")
        let failed = try eventually {
            let events = try Self.events(daemon).filter { $0["type"] == "connection.refresh_failed" }
            guard let event = events.first else { throw Pending() }
            return event
        }
        #expect(failed["connectionId"] == .string(id))
        #expect(failed["reason"] == "http_500")
        #expect(failed["detail"]?.stringValue?.contains("tried again after a back-off") == true)
        let status = try daemon.adminCall("connections.get", ["connectionId": .string(id), "actor": "alice"])
        #expect(status["connection"]?["status"] == "active")
        let text = String(decoding: try daemon.adminCall("events.list").serialized(), as: UTF8.self)
        #expect(!text.contains("ya29.events-current") && !text.contains("1//events-refresh"))
    }
}
