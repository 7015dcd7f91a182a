import Foundation
import Testing

/// One keep-alive HTTP/1.1 connection to the metrics listener on 127.0.0.1.
private final class MetricsConnection {
    let fd: Int32

    init(port: Int) throws {
        fd = try HTTPGet.connectLoopback(port: port)
    }

    deinit { close(fd) }

    /// Sends `GET /metrics` and returns the status code of the answer, or nil when the connection ended first.
    func scrape() -> Int? {
        let request = Array("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8)
        guard send(fd, request, request.count, Int32(MSG_NOSIGNAL)) == request.count else { return nil }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            guard wait(milliseconds: 10_000) else { return nil }
            let count = recv(fd, &buffer, buffer.count, 0)
            if count <= 0 { return nil }
            response += buffer.prefix(count)
            let text = String(decoding: response, as: UTF8.self)
            guard let split = text.range(of: "\r\n\r\n") else { continue }
            let head = text[..<split.lowerBound]
            let length =
                head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
                .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
            if text.utf8.count - text[..<split.upperBound].utf8.count >= length {
                return Int(head.split(separator: " ").dropFirst().first ?? "")
            }
        }
    }

    /// Whether the listener closes this connection within `milliseconds` (a generous bound, not a measurement).
    func isClosedByPeer(milliseconds: Int32) -> Bool {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while wait(milliseconds: milliseconds) {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count <= 0 { return true }
        }
        return false
    }

    private func wait(milliseconds: Int32) -> Bool {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&entry, 1, milliseconds) == 1
    }
}

@Suite("metrics listener: connection limit and idle timeout")
struct MetricsListenerBoundsTests {
    /// `MetricsListener.maxConnections`.
    static let limit = 16

    @Test("connections past the limit are closed at once; the sockets keep working and a freed place is reused")
    func connectionLimit() throws {
        let port = HTTPGet.freePort()
        let daemon = try DaemonFixture(mode: .process, configExtra: "[metrics]\nlisten = \"127.0.0.1:\(port)\"\n")
        #expect(daemon.waitForLog("credsd listening"))  // logged once the metrics listener is bound too
        var held: [MetricsConnection] = []
        for _ in 0..<Self.limit {
            let connection = try MetricsConnection(port: port)
            #expect(connection.scrape() == 200)  // answered, so accepted and counted
            held.append(connection)
        }
        let refused = try MetricsConnection(port: port)
        #expect(refused.isClosedByPeer(milliseconds: 10_000), "a connection past the limit stayed open")
        #expect(daemon.waitForLog("metrics connection refused: listener full"))
        #expect(try daemon.resolveCall("health")["status"] == "ok")
        #expect(try daemon.adminCall("health")["status"] == "ok")
        for connection in held { #expect(connection.scrape() == 200) }  // the held ones are still served

        held.removeLast()  // closes one; its place comes back once the daemon sees the close
        var scraped: Int?
        for _ in 0..<100 where scraped == nil {
            scraped = try MetricsConnection(port: port).scrape()
            if scraped == nil { usleep(50_000) }
        }
        #expect(scraped == 200)
    }

    @Test("an idle metrics connection is closed after idleTimeoutSeconds, also one that never sent anything")
    func idleTimeout() throws {
        let port = HTTPGet.freePort()
        let daemon = try DaemonFixture(
            mode: .process,
            configExtra: "[limits]\nidleTimeoutSeconds = 1\n\n[metrics]\nlisten = \"127.0.0.1:\(port)\"\n"
        )
        #expect(daemon.waitForLog("credsd listening"))  // logged once the metrics listener is bound too
        let scraped = try MetricsConnection(port: port)
        let silent = try MetricsConnection(port: port)
        #expect(scraped.scrape() == 200)
        #expect(scraped.isClosedByPeer(milliseconds: 15_000))
        #expect(silent.isClosedByPeer(milliseconds: 15_000))
        #expect(try MetricsConnection(port: port).scrape() == 200)
        #expect(try daemon.resolveCall("health")["status"] == "ok")
    }
}
