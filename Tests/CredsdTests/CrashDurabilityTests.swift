import CredsClient
import CredsProtocol
import Foundation
import Synchronization
import Testing

/// kill -9 at a random moment while admin clients write; after a restart every acknowledged write must be
/// there with its latest acknowledged value (or a later one that was in flight). `make crash-test` runs
/// this with CRASH_ITERATIONS (default 200); `make test` runs 10. After each restart the connections the
/// iteration touched are all checked, with a random sample of the others; after the last one, every connection.
@Suite("crash durability")
struct CrashDurabilityTests {
    /// What the client that owns a connection knows of it.
    struct Expected: Sendable {
        let owner: Int
        var acknowledged: String
        var revoked = false
        var revokeInFlight = false
        /// Values sent after the last acknowledgement, whose answers never came.
        var inFlight: [String] = []

        /// Whether `value` (nil: the connection does not resolve) is a state this connection may be in.
        func allows(_ value: String?) -> Bool {
            if revoked { return value == nil }
            if revokeInFlight && value == nil { return true }
            guard let value else { return false }
            return value == acknowledged || inFlight.contains(value)
        }
    }

    @Test("no acknowledged write is lost across kill -9, and the store always reopens")
    func crashLoop() throws {
        let iterations = Int(ProcessInfo.processInfo.environment["CRASH_ITERATIONS"] ?? "") ?? 10
        let daemon = try DaemonFixture(mode: .process, configExtra: "[resolve]\nrequireGrant = false\n")
        try daemon.addWriter()
        let expected = Mutex<[String: Expected]>([:])
        let touched = Mutex<Set<String>>([])
        var acknowledgedWrites = 0
        var lostWrites = 0
        var failedRestarts = 0
        var checkedResolves = 0
        for iteration in 0..<iterations {
            let stop = Mutex(false)
            let acks = Mutex(0)
            let socket = daemon.adminSocket
            let threads = (0..<3).map { client in
                Thread {
                    guard let admin = try? CredsClient(socketPath: socket, timeoutSeconds: 5) else { return }
                    var mine = expected.withLock {
                        $0.filter { $0.value.owner == client && !$0.value.revoked }.map(\.key)
                    }
                    var counter = 0
                    while !stop.withLock({ $0 }) {
                        counter += 1
                        let value = "v\(iteration)-\(client)-\(counter)"
                        if counter % 7 == 0, let target = mine.popLast() {
                            expected.withLock { $0[target]?.revokeInFlight = true }
                            touched.withLock { _ = $0.insert(target) }
                            guard
                                (try? admin.call(
                                    "connections.revoke", ["connectionId": .string(target), "actor": "alice"])) != nil
                            else { return }
                            expected.withLock { $0[target]?.revoked = true }
                        } else if counter % 7 < 4 || mine.isEmpty {
                            guard
                                let result = try? admin.call(
                                    "connections.upsert",
                                    [
                                        "workspaceId": "ws1", "provider": "elevenlabs", "displayName": "crash",
                                        "credentialPayload": ["apiKey": .string(value)], "actor": "alice",
                                    ]), let id = result["connection"]?["id"]?.stringValue
                            else { return }
                            expected.withLock { $0[id] = Expected(owner: client, acknowledged: value) }
                            touched.withLock { _ = $0.insert(id) }
                            mine.append(id)
                        } else if let target = mine.randomElement() {
                            expected.withLock { $0[target]?.inFlight.append(value) }
                            touched.withLock { _ = $0.insert(target) }
                            guard
                                (try? admin.call(
                                    "connections.upsert",
                                    [
                                        "workspaceId": "ws1", "provider": "elevenlabs", "displayName": "crash",
                                        "credentialPayload": ["apiKey": .string(value)],
                                        "connectionId": .string(target), "actor": "alice",
                                    ])) != nil
                            else { return }
                            expected.withLock { all in
                                all[target]?.acknowledged = value
                                all[target]?.inFlight.removeAll()
                            }
                        }
                        acks.withLock { $0 += 1 }
                    }
                }
            }
            threads.forEach { $0.start() }
            Thread.sleep(forTimeInterval: Double.random(in: 0.05...0.3))
            daemon.kill9()
            stop.withLock { $0 = true }
            Thread.sleep(forTimeInterval: 0.2)
            acknowledgedWrites += acks.withLock { $0 }
            do {
                try daemon.start()
            } catch {
                failedRestarts += 1
                Issue.record("restart \(iteration) failed: \(error)")
                continue
            }
            // Check what this iteration touched (and a sample of the rest; all of them after the last kill),
            // then take the store's word for what was in flight: it settled one way or the other.
            let resolver = try daemon.resolver()
            let all = expected.withLock { $0 }
            let checkEverything = iteration == iterations - 1
            let toCheck =
                checkEverything ? Set(all.keys) : touched.withLock { $0 }.union(all.keys.shuffled().prefix(200))
            touched.withLock { $0.removeAll() }
            var settledStates: [String: Expected] = [:]
            for id in toCheck {
                guard let state = all[id] else { continue }
                let answer = try? resolver.call(
                    "resolve", ["workspaceId": "ws1", "provider": "elevenlabs", "connectionId": .string(id)])
                let value = answer?["credential"]?["apiKey"]?.stringValue
                if !state.allows(value) { lostWrites += 1 }
                var settled = state
                if let value { settled.acknowledged = value } else if state.revokeInFlight { settled.revoked = true }
                settled.inFlight.removeAll()
                settled.revokeInFlight = false
                settledStates[id] = settled
            }
            checkedResolves += toCheck.count
            expected.withLock { $0.merge(settledStates) { _, settled in settled } }
        }
        #expect(try daemon.adminCall("audit.verify")["ok"] == true)
        print(
            "crash-test: iterations=\(iterations) acknowledged_writes=\(acknowledgedWrites) lost_writes=\(lostWrites) failed_restarts=\(failedRestarts) connections=\(expected.withLock { $0.count }) checked_resolves=\(checkedResolves)"
        )
        #expect(lostWrites == 0)
        #expect(failedRestarts == 0)
        #expect(acknowledgedWrites > iterations)
    }
}
