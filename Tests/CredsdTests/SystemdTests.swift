import CredsClient
import CredsProtocol
import Foundation
import Testing

@Suite("systemd: units, socket activation, readiness, graceful stop")
struct SystemdTests {
    static let unitsDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("systemd")
    static let unitNames = ["credsd.service", "credsd-resolve.socket", "credsd-admin.socket"]
    static let hasSystemd =
        FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-analyze")
        && FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-socket-activate")

    /// The units with ExecStart pointing at the built binary, in a temporary directory.
    private func stagedUnits() throws -> TemporaryDirectory {
        let directory = TemporaryDirectory()
        for name in Self.unitNames {
            let text = try String(contentsOf: Self.unitsDirectory.appendingPathComponent(name), encoding: .utf8)
            directory.write(
                name, text.replacingOccurrences(of: "/usr/local/bin/credsd", with: Binaries.credsd), mode: 0o644)
        }
        return directory
    }

    @Test("systemd-analyze verify passes on the service and its two socket units", .enabled(if: hasSystemd))
    func verifyUnits() throws {
        let units = try stagedUnits()
        let result = try ProcessResult.run(
            "/usr/bin/systemd-analyze", ["verify", "--man=no"] + Self.unitNames.map { units.file($0) })
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.isEmpty, "\(result.stderr)")
    }

    /// `Key=value` lines of a unit file (comments and sections dropped), in order.
    private static func settings(_ name: String) throws -> [(key: String, value: String)] {
        let text = try String(contentsOf: unitsDirectory.appendingPathComponent(name), encoding: .utf8)
        return text.split(separator: "\n").compactMap { line in
            guard !line.hasPrefix("#"), !line.hasPrefix("["), let equals = line.firstIndex(of: "=") else { return nil }
            return (String(line[..<equals]), String(line[line.index(after: equals)...]))
        }
    }

    @Test("the admin socket unit makes its socket 0600 and the resolve socket unit 0660, each named for credsd")
    func socketUnitModes() throws {
        let resolve = try Self.settings("credsd-resolve.socket")
        let admin = try Self.settings("credsd-admin.socket")
        for (unit, path, name, mode) in [
            (resolve, "/run/credsd/resolve.sock", "resolve", "0660"),
            (admin, "/run/credsd/admin.sock", "admin", "0600"),
        ] {
            #expect(unit.filter { $0.key == "ListenStream" }.map(\.value) == [path])
            #expect(unit.filter { $0.key == "FileDescriptorName" }.map(\.value) == [name])
            #expect(unit.filter { $0.key == "SocketMode" }.map(\.value) == [mode])
            #expect(unit.filter { $0.key == "Service" }.map(\.value) == ["credsd.service"])
        }
        let service = try Self.settings("credsd.service")
        #expect(service.filter { $0.key == "Sockets" }.map(\.value) == ["credsd-resolve.socket credsd-admin.socket"])
        #expect(service.contains { $0.key == "Requires" && $0.value.contains("credsd-admin.socket") })
        #expect(service.contains { $0.key == "LimitCORE" && $0.value == "0" })
        #expect(
            !FileManager.default.fileExists(atPath: Self.unitsDirectory.appendingPathComponent("credsd.socket").path))
    }

    @Test("the service's exposure score is at most 1.2", .enabled(if: hasSystemd))
    func exposure() throws {
        let units = try stagedUnits()
        let result = try ProcessResult.run(
            "/usr/bin/systemd-analyze", ["security", "--offline=yes", units.file("credsd.service")])
        let line = try #require(
            (result.stdout + result.stderr).split(separator: "\n").first { $0.contains("Overall exposure level") })
        let score = try #require(line.split(separator: " ").compactMap { Double($0) }.first)
        #expect(score <= 1.2, "\(line)")
    }

    @Test("socket activation: credsd uses both named sockets and leaves them in place", .enabled(if: hasSystemd))
    func socketActivation() throws {
        let directory = TemporaryDirectory()
        let resolve = directory.file("activated-resolve.sock")
        let admin = directory.file("activated-admin.sock")
        let daemon = try DaemonFixture(
            mode: .process,
            launcher: ["/usr/bin/systemd-socket-activate", "-l", resolve, "-l", admin, "--fdname=resolve:admin"],
            activatedSockets: (resolve, admin)
        )
        #expect(try daemon.adminCall("health")["status"] == "ok")
        #expect(try daemon.resolveCall("providers.list")["providers"] != nil)
        #expect(reason { try daemon.resolveCall("members.list", ["workspaceId": "w"]) } == "method_not_found")
        #expect(daemon.daemonLog.contains("socket.activation=admin,resolve"))
        #expect(daemon.stop() == 0)
        #expect(FileManager.default.fileExists(atPath: resolve))
        #expect(FileManager.default.fileExists(atPath: admin))
    }

    @Test("READY=1 once both sockets accept, WATCHDOG=1 pings, STOPPING=1 on shutdown")
    func readiness() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("notify.sock")
        let listener = try DatagramListener(path: path)
        let daemon = try DaemonFixture(mode: .process, environment: ["NOTIFY_SOCKET": path, "WATCHDOG_USEC": "200000"])
        let ready = try #require(listener.receive(timeoutMilliseconds: 5000))
        #expect(ready.contains("READY=1"))
        #expect(ready.contains("MAINPID=\(daemon.pid!)"))
        var pings = 0
        while let message = listener.receive(timeoutMilliseconds: 1000), pings < 2 {
            if message == "WATCHDOG=1" { pings += 1 }
        }
        #expect(pings == 2)
        #expect(daemon.stop() == 0)
        var stopping = false
        while let message = listener.receive(timeoutMilliseconds: 1000) {
            if message.contains("STOPPING=1") { stopping = true }
        }
        #expect(stopping)
    }

    @Test("SIGTERM lets an in-flight request finish, refuses new connections and exits 0")
    func gracefulDrain() throws {
        let provider = try FakeOAuthProvider()
        let daemon = try DaemonFixture(
            mode: .process, configExtra: "[resolve]\nrequireGrant = false\n\n" + provider.configSections())
        try daemon.addWriter()
        provider.configure { $0.refreshTokens.insert("1//drain") }
        try daemon.adminCall(
            "connections.upsert",
            [
                "workspaceId": "ws1", "provider": "google-workspace", "displayName": "D", "actor": "alice",
                "credentialPayload": [
                    "accessToken": "ya29.old", "refreshToken": "1//drain",
                    "expiresAt": .string(ISO8601DateFormatter().string(from: Date().addingTimeInterval(30))),
                ],
            ])
        provider.configure { $0.responseDelay = 1.5 }
        let slow = try daemon.resolver()
        try slow.sendFrame(
            JSONValue.object([
                "jsonrpc": "2.0", "id": 9, "method": "resolve",
                "params": ["workspaceId": "ws1", "provider": "google-workspace"],
            ]).serialized())
        Thread.sleep(forTimeInterval: 0.3)
        kill(daemon.pid!, SIGTERM)
        Thread.sleep(forTimeInterval: 0.3)
        #expect(throws: (any Error).self) { try CredsClient(socketPath: daemon.resolveSocket).call("health") }
        let answer = try slow.readAnswer()
        #expect(answer["id"] == 9)
        #expect(answer["result"]?["credential"]?["accessToken"] == "ya29.access-1")
        #expect(daemon.stop() == 0)
    }
}

/// A Unix datagram socket standing in for systemd's notification socket.
final class DatagramListener {
    private let fd: Int32

    init(path: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        guard UnixAddress(path).bind(fd) == 0 else { throw FixtureError.didNotStart(log: "cannot bind \(path)") }
    }

    deinit { close(fd) }

    func receive(timeoutMilliseconds: Int32) -> String? {
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&descriptor, 1, timeoutMilliseconds) == 1 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = recv(fd, &buffer, buffer.count, 0)
        guard count > 0 else { return nil }
        return String(decoding: buffer.prefix(count), as: UTF8.self)
    }
}
