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
