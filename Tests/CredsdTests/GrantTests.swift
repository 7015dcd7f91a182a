import CredsClient
import CredsProtocol
import Foundation
import Testing

@Suite("execution grants")
struct GrantTests {
    @Test("resolve needs a grant by default, and a valid one for the same workspace and provider")
    func grantChecks() throws {
        let daemon = try DaemonFixture(builtin: ["fal": "platform", "gemini": "platform-g"])
        let params: [String: JSONValue] = ["workspaceId": "ws1", "provider": "fal"]
        #expect(reason { try daemon.resolveCall("resolve", params) } == "grant_required")
        var withGrant = params
        withGrant["grant"] = "cg_not-a-real-grant"
        #expect(reason { try daemon.resolveCall("resolve", withGrant) } == "grant_invalid")

        let otherWorkspace = try daemon.grant(workspace: "ws2")
        withGrant["grant"] = .string(otherWorkspace)
        #expect(reason { try daemon.resolveCall("resolve", withGrant) } == "forbidden")

        let falOnly = try daemon.grant(providers: ["fal"])
        withGrant["grant"] = .string(falOnly)
        #expect(try daemon.resolveCall("resolve", withGrant)["source"] == "built_in")
        var gemini = withGrant
        gemini["provider"] = "gemini"
        #expect(reason { try daemon.resolveCall("resolve", gemini) } == "forbidden")

        try daemon.adminCall("grants.revoke", ["grant": .string(falOnly)])
        #expect(reason { try daemon.resolveCall("resolve", withGrant) } == "grant_invalid")
        #expect(reason { try daemon.adminCall("grants.revoke", ["grant": .string(falOnly)]) } == "not_found")
    }

    @Test("a grant lasts 900 s by default, at most 86400 s, and expires")
    func grantLifetime() throws {
        let daemon = try DaemonFixture(builtin: ["fal": "platform"])
        let issued = try daemon.adminCall("grants.issue", ["workspaceId": "ws1"])
        let expiresAt = try #require(ISO8601DateFormatter().date(from: issued["expiresAt"]!.stringValue!))
        #expect(abs(expiresAt.timeIntervalSinceNow - 900) < 5)
        #expect(issued["grant"]!.stringValue!.hasPrefix("cg_"))
        #expect(
            reason { try daemon.adminCall("grants.issue", ["workspaceId": "ws1", "ttlSeconds": 86_401]) }
                == "invalid_params")
        #expect(
            reason { try daemon.adminCall("grants.issue", ["workspaceId": "ws1", "ttlSeconds": 0]) } == "invalid_params"
        )
        #expect(
            reason { try daemon.adminCall("grants.issue", ["workspaceId": "ws1", "providers": ["nope"]]) }
                == "unknown_provider")

        let short = try daemon.grant(ttl: 1)
        let params: [String: JSONValue] = ["workspaceId": "ws1", "provider": "fal", "grant": .string(short)]
        #expect(try daemon.resolveCall("resolve", params)["source"] == "built_in")
        Thread.sleep(forTimeInterval: 1.2)
        #expect(reason { try daemon.resolveCall("resolve", params) } == "grant_invalid")
    }

    @Test("grants are stored only as a hash and survive a restart")
    func grantsSurviveRestart() throws {
        let daemon = try DaemonFixture(builtin: ["fal": "platform"])
        let grant = try daemon.grant()
        try daemon.restart()
        let result = try daemon.resolveCall(
            "resolve", ["workspaceId": "ws1", "provider": "fal", "grant": .string(grant)])
        #expect(result["source"] == "built_in")
        daemon.stop()
        let store = try Data(contentsOf: URL(fileURLWithPath: daemon.dataDir + "/data.mdb"))
        #expect(store.range(of: Data(grant.utf8)) == nil)
    }
}
