import CredsCore
import CredsCrypto
import CredsProtocol
import Foundation
import Logging
import NIOCore
import NIOPosix
import Synchronization
import Testing

/// The engine in process: writes racing a reload of the key ring (what SIGHUP does).
@Suite("key ring reloads during writes")
struct KeyReloadRaceTests {
    @Test(
        "an upsert racing a reload that removes the key is refused or sealed, never stored active without a credential")
    func upsertDuringReload() throws {
        let directory = TemporaryDirectory()
        let database = try CredsDatabase(directory: directory.path)
        defer { database.close() }
        let keyed = KeyRing(keys: [MasterKey.generate()])
        let keyless = KeyRing(keys: [])
        var resolveConfig = ResolveConfig()
        resolveConfig.requireGrant = false
        let engine = CredsEngine(
            database: database, keyRing: keyed, builtinKeys: [:], resolveConfig: resolveConfig,
            logger: Logger(label: "test")
        )
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let admin = MethodRegistry.adminSocket(engine)
        _ = try admin.call(
            "members.set", ["workspaceId": "ws1", "principal": "alice", "role": "write"], on: group.next()
        )
        .wait()

        // A reloader flips the key ring as fast as it can while upserts go on.
        let stop = Atomic<Bool>(false)
        let reloader = Thread {
            var withKey = false
            while !stop.load(ordering: .relaxed) {
                engine.reloadSecrets(keyRing: withKey ? keyed : keyless, builtinKeys: [:])
                withKey.toggle()
            }
            engine.reloadSecrets(keyRing: keyed, builtinKeys: [:])
        }
        reloader.start()
        var stored: [String] = []
        var refused = 0
        for index in 0..<3_000 {
            do {
                let answer = try admin.call(
                    "connections.upsert",
                    [
                        "workspaceId": "ws1", "provider": "fal", "displayName": "k", "actor": "alice",
                        "credentialPayload": ["apiKey": .string("fal-race-\(index)")],
                    ], on: group.next()
                ).wait()
                stored.append(try #require(answer["connection"]?["id"]?.stringValue))
            } catch let error as RPCError {
                #expect(error.reason == .encryptionKeyMissing)
                refused += 1
            }
        }
        stop.store(true, ordering: .relaxed)
        while reloader.isExecuting { usleep(1_000) }
        // Every stored connection opens: resolve it by id with the key back in place.
        let resolver = MethodRegistry.resolveSocket(engine)
        var unreadable: [String] = []
        for id in stored {
            do {
                _ = try resolver.call(
                    "resolve", ["workspaceId": "ws1", "provider": "fal", "connectionId": .string(id)], on: group.next()
                ).wait()
            } catch {
                unreadable.append("\(error)")
            }
        }
        #expect(
            unreadable.isEmpty,
            "\(unreadable.count) of \(stored.count) stored connections do not resolve (\(refused) refused): \(unreadable.prefix(3))"
        )
        #expect(stored.count + refused == 3_000)
    }
}
