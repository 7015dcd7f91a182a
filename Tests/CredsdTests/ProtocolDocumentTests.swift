import CredsClient
import CredsProtocol
import Foundation
import Testing

@Suite("proto/ documents what the daemon does")
struct ProtocolDocumentTests {
    static let protoDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("proto")

    @Test("every documented method is answered on its socket, and only there")
    func methodsMatch() throws {
        let data = try Data(contentsOf: Self.protoDirectory.appendingPathComponent("schema/methods.json"))
        let methods = try #require(try JSONValue.parse(Array(data))["methods"]?.objectValue)
        let implemented: Set<String> = [
            "resolve", "events.verify", "health", "providers.list", "connections.upsert", "connections.get",
            "connections.list", "connections.revoke", "connections.delete", "policy.set", "policy.get",
            "members.set", "members.list", "grants.issue", "grants.revoke", "explain", "keys.status", "keys.rotate",
            "audit.list", "audit.verify", "oauth.begin", "oauth.complete", "stats",
        ]
        #expect(Set(methods.keys) == implemented)
        let daemon = try DaemonFixture()
        for (name, entry) in methods {
            let socket = entry["socket"]?.stringValue
            let onResolve = reason { try daemon.resolveCall(name, [:]) }
            let onAdmin = reason { try daemon.adminCall(name, [:]) }
            #expect((onResolve == "method_not_found") == (socket == "admin"), "\(name) on the resolve socket")
            #expect((onAdmin == "method_not_found") == (socket == "resolve"), "\(name) on the admin socket")
        }
    }

    @Test("every error reason is in proto/errors.md with its code")
    func reasonsDocumented() throws {
        let text = try String(contentsOf: Self.protoDirectory.appendingPathComponent("errors.md"), encoding: .utf8)
        for reason in ErrorReason.allCases {
            #expect(text.contains("| `\(reason.rawValue)` | \(reason.code) |"), "\(reason.rawValue)")
        }
        #expect(Set(ErrorReason.allCases.map(\.code)).count == ErrorReason.allCases.count)
    }
}
