import CredsClient
import CredsProtocol
import Foundation
import Testing

@Suite("connection limits")
struct LimitsTests {
    @Test("one connection over maxConnections gets overloaded and is closed; the others keep working")
    func overloaded() throws {
        let daemon = try DaemonFixture(configExtra: "[limits]\nmaxConnections = 2\n")
        Thread.sleep(forTimeInterval: 0.3)  // the fixture's readiness probes release their places
        let first = try daemon.resolver()
        let second = try daemon.resolver()
        #expect(try first.call("health")["status"] == "ok")
        #expect(try second.call("health")["status"] == "ok")
        let third = try daemon.resolver()
        let answer = try third.readAnswer()
        #expect(answer["id"] == .null)
        #expect(answer["error"]?["data"]?["reason"] == "overloaded")
        #expect(third.isClosedByPeer())
        #expect(try first.call("health")["status"] == "ok")
        #expect(try daemon.adminCall("health")["status"] == "ok")
        second.close()
        Thread.sleep(forTimeInterval: 0.2)
        #expect(try daemon.resolver().call("health")["status"] == "ok")
    }

    @Test("an idle connection is closed after idleTimeoutSeconds, also one that sent half a frame")
    func idleTimeout() throws {
        let daemon = try DaemonFixture(configExtra: "[limits]\nidleTimeoutSeconds = 1\n")
        let idle = try daemon.resolver()
        let halfSent = try daemon.resolver()
        try halfSent.sendRaw([0, 0, 0, 40, 0x7B])
        #expect(try idle.call("health")["status"] == "ok")
        #expect(idle.isClosedByPeer(timeoutMilliseconds: 3000))
        #expect(halfSent.isClosedByPeer(timeoutMilliseconds: 3000))
    }
}

@Suite("back-pressure")
struct BackPressureTests {
    private func rssKilobytes(_ pid: Int32) -> Int {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0
    }

    @Test("a client that sends without reading its answers is throttled, then closed; others are served")
    func nonReadingClient() throws {
        let daemon = try DaemonFixture(mode: .process, configExtra: "[limits]\nidleTimeoutSeconds = 2\n")
        let pid = try #require(daemon.pid)
        let before = rssKilobytes(pid)
        let greedy = try CredsClient(socketPath: daemon.adminSocket, timeoutSeconds: 1)
        let frame = Frame.encode(
            JSONValue.object(["jsonrpc": "2.0", "id": 1, "method": "providers.list"]).serialized())
        var batch: [UInt8] = []
        for _ in 0..<200 { batch += frame }
        // providers.list answers are ~2 KB: keep asking, never read, until the daemon stops reading us
        // (a send then times out), or 40 MB of answers have been asked for.
        var sent = 0
        while sent < 20_000, (try? greedy.sendRaw(batch)) != nil { sent += 200 }
        #expect(sent < 20_000, "the daemon kept reading requests whose answers were not read")
        Thread.sleep(forTimeInterval: 1.0)
        #expect(try daemon.resolveCall("health")["status"] == "ok")
        let during = rssKilobytes(pid)
        #expect(during - before < 30_000, "RSS grew by \(during - before) KB while a client would not read")
        #expect(greedy.isClosedByPeerDiscardingData(timeoutMilliseconds: 8000))
        #expect(try daemon.adminCall("health")["status"] == "ok")
    }
}
