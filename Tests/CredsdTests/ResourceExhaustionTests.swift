import CredsClient
import CredsProtocol
import Foundation
import Testing

/// A full data filesystem and an exhausted file-descriptor table, against the real daemon.
@Suite("resource exhaustion", .serialized)
struct ResourceExhaustionTests {
    static let noGrant = "[resolve]\nrequireGrant = false\n"

    @Test(
        "a full data filesystem: writes refused with a clear error, reads served, nothing lost, writes again once freed",
        .enabled(if: TmpfsMount.available, "needs root and a mountable tmpfs")
    )
    func fullFilesystem() throws {
        let mount = try TmpfsMount(sizeKiB: 2048)
        let daemon = try DaemonFixture(configExtra: Self.noGrant, dataDirectory: "\(mount.path)/data")
        defer { _ = daemon.stop() }
        try daemon.addWriter()
        var stored: [String: String] = [:]
        for index in 0..<5 {
            let value = "sk_before_full_\(index)"
            stored[try daemon.upsert(provider: "elevenlabs", payload: ["apiKey": .string(value)])] = value
        }

        let filler = mount.fill()
        // LMDB may still place a few writes in pages it already holds; the disk runs out within a few hundred.
        var refusal: CredsRemoteError?
        let admin = try daemon.admin()
        for index in 0..<500 {
            let value = "sk_while_full_\(index)"
            do {
                let result = try admin.call(
                    "connections.upsert",
                    [
                        "workspaceId": "ws1", "provider": "elevenlabs", "displayName": "full",
                        "credentialPayload": ["apiKey": .string(value)], "actor": "alice",
                    ])
                stored[result["connection"]!["id"]!.stringValue!] = value
            } catch {
                guard case .remote(let remote) = error else { throw error }
                refusal = remote
                break
            }
        }
        let error = try #require(refusal, "no write was refused on a full filesystem")
        #expect(error.reason == "internal_error")
        #expect(error.data["store"] == "no_space")
        #expect(error.message.contains("full"))
        #expect(daemon.waitForLog("filesystem is full"))

        // Reads keep working and see exactly the acknowledged writes; the refused one left nothing behind.
        for (id, value) in stored {
            let answer = try daemon.resolveCall(
                "resolve", ["workspaceId": "ws1", "provider": "elevenlabs", "connectionId": .string(id)])
            #expect(answer["credential"]?["apiKey"]?.stringValue == value)
        }
        let listed = try daemon.adminCall("connections.list", ["workspaceId": "ws1", "actor": "alice"])
        #expect(listed["connections"]?.arrayValue?.count == stored.count)
        #expect(try daemon.adminCall("health")["status"] != nil)

        // Space back: writes succeed again, and everything survives a restart with an intact audit chain.
        try FileManager.default.removeItem(atPath: filler)
        let after = try daemon.upsert(provider: "elevenlabs", payload: ["apiKey": "sk_after_freeing"])
        stored[after] = "sk_after_freeing"
        try daemon.restart()
        for (id, value) in stored {
            let answer = try daemon.resolveCall(
                "resolve", ["workspaceId": "ws1", "provider": "elevenlabs", "connectionId": .string(id)])
            #expect(answer["credential"]?["apiKey"]?.stringValue == value)
        }
        #expect(try daemon.adminCall("audit.verify")["ok"] == true)
    }

    @Test(
        "out of file descriptors: accept errors logged and retried after a pause, no busy loop, served again after",
        .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/prlimit"), "needs prlimit (util-linux)")
    )
    func descriptorLimit() throws {
        let limit = 64
        let daemon = try DaemonFixture(
            mode: .process,
            configExtra: Self.noGrant + "[limits]\nmaxConnections = 4096\n",
            launcher: ["/usr/bin/prlimit", "--nofile=\(limit):\(limit)", "--"]
        )
        defer { _ = daemon.stop() }
        let pid = try #require(daemon.pid)
        let before = try daemon.resolver()
        #expect(try before.call("health")["status"] != nil)

        // More connections than descriptors are left: the kernel queues them, the daemon cannot accept them all.
        let open = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count
        var raw = try (0..<(limit - open + 40)).map { _ in try CredsClient(socketPath: daemon.resolveSocket) }
        Thread.sleep(forTimeInterval: 1.5)
        let cpuStart = try ProcessCPUTime.seconds(pid: pid)
        Thread.sleep(forTimeInterval: 3)
        let cpuUsed = try ProcessCPUTime.seconds(pid: pid) - cpuStart
        #expect(cpuUsed < 1.0, "the daemon used \(cpuUsed) s of CPU in 3 s while out of descriptors")
        #expect(daemon.waitForLog("accept failed; retrying in"))
        #expect(daemon.waitForLog("errno=24"))
        // An open connection is not disturbed.
        #expect(try before.call("health")["status"] != nil)

        // Descriptors back: the queued connections are taken, and a new one is served.
        raw.removeAll()
        let after = try CredsClient(socketPath: daemon.resolveSocket, timeoutSeconds: 10)
        #expect(try after.call("health")["status"] != nil)
    }
}
