import CredsClient
import CredsCrypto
import CredsProtocol
import Foundation
import Synchronization
import Testing

@Suite("security: integrity, rotation, audit")
struct SecurityTests {
    @Test("a sealed payload moved to another record, or altered by one byte, is integrity_error")
    func integrity() throws {
        let daemon = try DaemonFixture(configExtra: "[resolve]\nrequireGrant = false\n")
        try daemon.addWriter()
        let first = try daemon.upsert(provider: "fal", payload: ["apiKey": "first-key"])
        let second = try daemon.upsert(provider: "fal", payload: ["apiKey": "second-key"])
        let third = try daemon.upsert(provider: "fal", payload: ["apiKey": "third-key"])
        daemon.stop()

        let surgery = try StoreSurgery(dataDir: daemon.dataDir)
        var moved = try surgery.json("connections", Array(second.utf8))
        moved["sealed"] = try surgery.json("connections", Array(first.utf8))["sealed"]
        try surgery.putJSON("connections", Array(second.utf8), moved)
        var altered = try surgery.json("connections", Array(third.utf8))
        var sealed = altered["sealed"]!.objectValue!
        var box = try #require(Base64.decode(sealed["box"]!.stringValue!))
        box[30] ^= 1
        sealed["box"] = .string(box.withUnsafeBytes { Base64.encode($0) })
        altered["sealed"] = .object(sealed)
        try surgery.putJSON("connections", Array(third.utf8), altered)
        surgery.close()

        try daemon.start()
        for id in [second, third] {
            let error = remoteError {
                try daemon.resolveCall(
                    "resolve", ["workspaceId": "ws1", "provider": "fal", "connectionId": .string(id)])
            }
            #expect(error?.reason == "integrity_error")
            #expect(error?.data["connectionId"] == .string(id))
        }
        let intact = try daemon.resolveCall(
            "resolve", ["workspaceId": "ws1", "provider": "fal", "connectionId": .string(first)])
        #expect(intact["credential"] == ["apiKey": "first-key"])
    }

    @Test("rotation survives kill -9, completes when run again, and the old key can then be dropped")
    func rotationWithCrash() throws {
        let daemon = try DaemonFixture(mode: .process, configExtra: "[resolve]\nrequireGrant = false\n")
        try daemon.addWriter()
        let count = 3000
        let admin = try daemon.admin()
        var frames: [[UInt8]] = []
        for index in 0..<count {
            let request: JSONValue = [
                "jsonrpc": "2.0", "id": .int(Int64(index)), "method": "connections.upsert",
                "params": [
                    "workspaceId": .string("ws\(index % 10)"), "provider": "elevenlabs", "displayName": "K",
                    "credentialPayload": ["apiKey": .string("key-\(index)")], "actor": "alice",
                ],
            ]
            frames.append(Frame.encode(request.serialized()))
        }
        for workspace in 0..<10 { try daemon.addWriter(workspace: "ws\(workspace)") }
        // Pipelined in slices, reading the answers of each: a client must keep reading what it asked for.
        for slice in stride(from: 0, to: count, by: 500) {
            let end = min(count, slice + 500)
            try admin.sendRaw(frames[slice..<end].flatMap { $0 })
            for _ in slice..<end { #expect(try admin.readAnswer()["error"] == nil) }
        }

        let oldKey = daemon.keyFiles[0]
        let newKey = daemon.makeKey(named: "new.key")
        daemon.stop()
        daemon.setKeys([newKey, oldKey])
        try daemon.start()
        let ids = try daemon.adminCall("keys.status")["keys"]!.arrayValue!
        let newId = ids[0]["id"]!.stringValue!
        #expect(ids[0]["records"] == 0)
        #expect(ids[1]["records"] == .int(Int64(count)))

        let rotating = try daemon.admin()
        try rotating.sendFrame(JSONValue.object(["jsonrpc": "2.0", "id": 1, "method": "keys.rotate"]).serialized())
        var sealedByNew: Int64 = 0
        for _ in 0..<2000 {
            sealedByNew = try daemon.adminCall("keys.status")["keys"]!.arrayValue![0]["records"]!.intValue!
            if sealedByNew > 0 { break }
            usleep(1_000)
        }
        // Freeze the rotation where it is (LMDB's write lock, exclusive across processes), then kill: the point
        // of the kill no longer depends on how fast this machine is. Usually it is in the middle; if the
        // rotation already finished, the checks below still hold.
        let surgery = try StoreSurgery(dataDir: daemon.dataDir)
        let hold = surgery.holdWriteLock()
        sealedByNew = try daemon.adminCall("keys.status")["keys"]!.arrayValue![0]["records"]!.intValue!
        daemon.kill9()
        hold.release()
        surgery.close()
        #expect(sealedByNew > 0 && sealedByNew <= Int64(count), "killed after \(sealedByNew) of \(count) rotated")

        try daemon.start()
        let afterCrash = try daemon.adminCall("keys.status")["keys"]!.arrayValue!
        #expect(afterCrash.reduce(0) { $0 + $1["records"]!.intValue! } == Int64(count))
        let rotated = try daemon.adminCall("keys.rotate")
        #expect(rotated["unreadable"] == 0)
        #expect(rotated["rotated"]!.intValue! == Int64(count) - (afterCrash[0]["records"]!.intValue!))
        let done = try daemon.adminCall("keys.status")
        #expect(done["keys"]!.arrayValue![0]["records"] == .int(Int64(count)))
        #expect(done["keys"]!.arrayValue![0]["id"] == .string(newId))

        daemon.stop()
        daemon.setKeys([newKey])
        try daemon.start()
        #expect(try daemon.adminCall("health")["status"] == "ok")
        let client = try daemon.resolver()
        for index in stride(from: 0, to: count, by: 97) {
            let result = try client.call(
                "resolve", ["workspaceId": .string("ws\(index % 10)"), "provider": "elevenlabs"])
            #expect(result["source"] == "byo")
        }
        let all = try daemon.adminCall("connections.list", ["workspaceId": "ws3", "actor": "alice"])
        #expect(all["connections"]?.arrayValue?.count == count / 10)
    }

    @Test("records sealed by a key no longer configured: integrity_error on use, and health says so")
    func droppedKey() throws {
        let daemon = try DaemonFixture(configExtra: "[resolve]\nrequireGrant = false\n")
        try daemon.addWriter()
        let id = try daemon.upsert(provider: "gemini", payload: ["apiKey": "AIza-old-key"])
        let oldId = try daemon.adminCall("health")["activeKeyId"]!.stringValue!
        daemon.stop()
        daemon.setKeys([daemon.makeKey(named: "other.key")])
        try daemon.start()
        let health = try daemon.adminCall("health")
        #expect(health["status"] == "degraded")
        #expect(health["problems"]?.arrayValue?.first?.stringValue?.contains(oldId) == true)
        let error = remoteError { try daemon.resolveCall("resolve", ["workspaceId": "ws1", "provider": "gemini"]) }
        #expect(error?.reason == "integrity_error")
        #expect(error?.data["keyId"] == .string(oldId))
        #expect(error?.data["connectionId"] == .string(id))
        let rotated = try daemon.adminCall("keys.rotate")
        #expect(rotated["unreadable"] == 1)
        let status = try daemon.adminCall("keys.status")["keys"]!.arrayValue!
        #expect(status.contains { $0["id"] == .string(oldId) && $0["configured"] == false && $0["records"] == 1 })
    }

    @Test("every admin write and every resolve is audited in a verifiable chain; tampering is named")
    func auditChain() throws {
        let daemon = try DaemonFixture(builtin: ["fal": "platform-fal"])
        try daemon.addWriter()
        let id = try daemon.upsert(
            provider: "resend", payload: ["apiKey": "re_audit", "webhookSecret": "whsec_c2VjcmV0"])
        try daemon.adminCall("policy.set", ["workspaceId": "ws1", "provider": "fal", "mode": "auto", "actor": "alice"])
        let grant = try daemon.grant()
        try daemon.resolveCall("resolve", ["workspaceId": "ws1", "provider": "fal", "grant": .string(grant)])
        _ = reason { try daemon.resolveCall("resolve", ["workspaceId": "ws1", "provider": "fal"]) }
        _ = reason { try daemon.adminCall("connections.revoke", ["connectionId": .string(id), "actor": "mallory"]) }
        try daemon.adminCall("connections.revoke", ["connectionId": .string(id), "actor": "alice"])
        Thread.sleep(forTimeInterval: 0.3)

        let entries = try daemon.adminCall("audit.list")["entries"]!.arrayValue!
        let summary = entries.map { "\($0["method"]!.stringValue!):\($0["outcome"]!.stringValue!)" }
        #expect(
            summary == [
                "members.set:ok", "connections.upsert:ok", "policy.set:ok", "grants.issue:ok", "resolve:ok",
                "resolve:grant_required", "connections.revoke:forbidden", "connections.revoke:ok",
            ])
        #expect(entries[1]["connectionId"] == .string(id))
        #expect(entries[1]["actor"] == "alice")
        #expect(entries[1]["provider"] == "resend")
        #expect(entries[1]["socket"] == "admin")
        #expect(entries[1]["peerUid"] == .int(Int64(getuid())))
        #expect(entries[4]["source"] == "built_in")
        #expect(entries[4]["socket"] == "resolve")
        #expect(entries[6]["connectionId"] == .string(id))
        #expect(entries[6]["actor"] == "mallory")
        for (index, entry) in entries.enumerated() { #expect(entry["seq"] == .int(Int64(index + 1))) }
        let text = String(decoding: JSONValue.array(entries).serialized(), as: UTF8.self)
        for secret in daemon.secrets + ["re_audit", "whsec_c2VjcmV0"] { #expect(!text.contains(secret)) }
        #expect(try daemon.adminCall("audit.verify") == ["ok": true, "checked": 8])
        #expect(
            try daemon.adminCall("audit.list", ["since": 6, "limit": 1])["entries"]?.arrayValue?.first?["seq"] == 7)
        #expect(try daemon.adminCall("audit.list", ["workspaceId": "nope"])["entries"] == [])

        daemon.stop()
        let surgery = try StoreSurgery(dataDir: daemon.dataDir)
        let original = try surgery.get("audit", StoreSurgery.auditKey(3))!
        // Entry 3 (policy.set) is a binary record: its outcome is the text "ok" after its 4-byte length.
        let outcome: [UInt8] = [0, 0, 0, 2, UInt8(ascii: "o"), UInt8(ascii: "k")]
        let at = try #require(
            (0...(original.count - outcome.count)).last { Array(original[$0..<($0 + outcome.count)]) == outcome })
        var changed = original
        changed[at + 4] = UInt8(ascii: "n")
        changed[at + 5] = UInt8(ascii: "o")
        try surgery.put("audit", StoreSurgery.auditKey(3), changed)
        surgery.close()
        try daemon.start()
        #expect(try daemon.adminCall("audit.verify") == ["ok": false, "checked": 3, "firstBroken": 3])

        daemon.stop()
        let repair = try StoreSurgery(dataDir: daemon.dataDir)
        try repair.put("audit", StoreSurgery.auditKey(3), original)
        try repair.delete("audit", StoreSurgery.auditKey(5))
        repair.close()
        try daemon.start()
        let verdict = try daemon.adminCall("audit.verify")
        #expect(verdict["ok"] == false)
        #expect(verdict["firstBroken"] == 6)
    }

    @Test("every answered resolve is in the audit after a graceful stop, however far the writer was behind")
    func auditDrainsOnStop() throws {
        let daemon = try DaemonFixture(mode: .process, configExtra: "[resolve]\nrequireGrant = false\n")
        try daemon.addWriter()
        try daemon.upsert(provider: "fal", payload: ["apiKey": "fal-audit-drain"])
        let before = try #require(daemon.adminCall("audit.verify")["checked"]?.intValue)
        // The writer is held behind by construction, not by racing it: this process takes LMDB's write lock
        // (exclusive across processes), so every resolve answered meanwhile leaves its audit entry queued.
        // 6,000 entries are more than one audit job takes (4,096) and fewer than the backlog limit (16,384)
        // past which answers would wait.
        let surgery = try StoreSurgery(dataDir: daemon.dataDir)
        let hold = surgery.holdWriteLock()
        let answered = 6_000
        let frame = Frame.encode(
            Array(#"{"jsonrpc":"2.0","id":1,"method":"resolve","params":{"workspaceId":"ws1","provider":"fal"}}"#.utf8))
        let client = try daemon.resolver()
        for _ in 0..<(answered / 500) {
            try client.sendRaw(Array((0..<500).map { _ in frame }.joined()))
            for _ in 0..<500 { #expect(try client.readAnswer()["result"]?["source"] == "byo") }
        }
        #expect(try daemon.adminCall("audit.verify")["checked"]?.intValue == before, "nothing committed while held")
        // SIGTERM while the writer cannot commit anything, then let it go: the stop must drain everything.
        let pid = try #require(daemon.pid)
        kill(pid, SIGTERM)
        #expect(daemon.waitForLog("stopping"), "the daemon began its graceful stop")
        hold.release()
        #expect(daemon.stop() == 0)
        surgery.close()
        try daemon.start()
        let verified = try daemon.adminCall("audit.verify")
        #expect(verified["ok"] == true)
        #expect((verified["checked"]?.intValue ?? 0) >= before + Int64(answered))
    }

    @Test("audit retention trims the oldest entries and the kept chain still verifies")
    func auditRetention() throws {
        let daemon = try DaemonFixture(configExtra: "[audit]\nmaxEntries = 100\n")
        let admin = try daemon.admin()
        for index in 0..<150 {
            _ = try admin.call(
                "members.set", ["workspaceId": "ws1", "principal": .string("p\(index)"), "role": "read"])
        }
        #expect(try daemon.adminCall("audit.verify") == ["ok": true, "checked": 100])
        #expect(try daemon.adminCall("audit.list", ["limit": 1])["entries"]?.arrayValue?.first?["seq"] == 51)
    }
}
