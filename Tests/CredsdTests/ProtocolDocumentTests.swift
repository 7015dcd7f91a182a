import CredsClient
import CredsCore
import CredsCrypto
import CredsProtocol
import Foundation
import Logging
import NIOPosix
import Testing

@Suite("proto/ documents what the daemon does")
struct ProtocolDocumentTests {
    static let protoDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("proto")

    @Test("every documented method is answered on its socket, and only there")
    func methodsMatch() throws {
        let data = try Data(contentsOf: Self.protoDirectory.appendingPathComponent("schema/methods.json"))
        let methods = try #require(try JSONValue.parse(Array(data))["methods"]?.objectValue)
        let daemon = try DaemonFixture()
        for (name, entry) in methods {
            let socket = entry["socket"]?.stringValue
            let onResolve = reason { try daemon.resolveCall(name, [:]) }
            let onAdmin = reason { try daemon.adminCall(name, [:]) }
            #expect((onResolve == "method_not_found") == (socket == "admin"), "\(name) on the resolve socket")
            #expect((onAdmin == "method_not_found") == (socket == "resolve"), "\(name) on the admin socket")
        }
    }

    @Test("the method registry and proto/schema agree: sockets, param names, required params, nothing else taken")
    func registryMatchesSchema() throws {
        let data = try Data(contentsOf: Self.protoDirectory.appendingPathComponent("schema/methods.json"))
        let methods = try #require(try JSONValue.parse(Array(data))["methods"]?.objectValue)
        let directory = TemporaryDirectory()
        let database = try CredsDatabase(directory: directory.path)
        defer { database.close() }
        let engine = CredsEngine(
            database: database, keyRing: KeyRing(keys: [MasterKey.generate()]), builtinKeys: [:],
            resolveConfig: ResolveConfig(), logger: Logger(label: "test"))
        let registries = [MethodRegistry.resolveSocket(engine), MethodRegistry.adminSocket(engine)]
        var registered: [String: String] = [:]
        for registry in registries {
            for name in registry.names {
                registered[name] = registered[name] == nil ? registry.socket.rawValue : "both"
            }
        }
        #expect(registered == methods.mapValues { $0["socket"]?.stringValue ?? "" })
        var catalog: [String: String] = [:]
        for name in MethodCatalog.common { catalog[name] = "both" }
        for name in MethodCatalog.resolveOnly { catalog[name] = "resolve" }
        for name in MethodCatalog.adminOnly { catalog[name] = "admin" }
        #expect(registered == catalog, "MethodCatalog (credsctl's routing) and MethodRegistry disagree")
        let eventLoop = MultiThreadedEventLoopGroup.singleton.next()
        for (name, entry) in methods.sorted(by: { $0.key < $1.key }) {
            let registry = registries.first { $0.entry(for: name) != nil }!
            let properties = entry["params"]?["properties"]?.objectValue ?? [:]
            let required = Set(entry["params"]?["required"]?.arrayValue?.compactMap(\.stringValue) ?? [])
            func refusal(_ params: [String: JSONValue]) -> RPCError? {
                do {
                    _ = try registry.call(name, params, on: eventLoop).wait()
                    return nil
                } catch {
                    return error as? RPCError
                }
            }
            // A name the schema does not list is refused; every name it lists is taken.
            let unknown = refusal(["notAParam": .null])
            #expect(unknown?.data["unknown"] == ["notAParam"], "\(name) took a param the schema does not list")
            for param in properties.keys {
                let error = refusal([param: .null])
                #expect(error?.data["unknown"] == nil, "\(name) refused its documented param \(param)")
            }
            // Sending nothing names a missing param exactly when the schema requires one.
            let empty = refusal([:])
            let missing = empty?.data["param"]?.stringValue
            if empty?.reason == .invalidParams, let missing, empty?.message == "\(missing) is required" {
                #expect(required.contains(missing), "\(name) requires \(missing), which the schema calls optional")
            } else {
                #expect(required.isEmpty, "\(name): the schema requires \(required.sorted()), the method did not ask")
            }
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
