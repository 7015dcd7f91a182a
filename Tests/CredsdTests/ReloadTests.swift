import CredsClient
import CredsProtocol
import Foundation
import Testing

@Suite("configuration: check-config and SIGHUP reload")
struct ReloadTests {
    @Test("SIGHUP takes new key files and built-in keys, logs what changed; an invalid config is refused")
    func reload() throws {
        let daemon = try DaemonFixture(mode: .process, configExtra: "[resolve]\nrequireGrant = false\n")
        try daemon.addWriter()
        try daemon.upsert(provider: "fal", payload: ["apiKey": "fal-before-reload"])
        let oldKey = daemon.keyFiles[0]
        let oldId = try daemon.adminCall("health")["activeKeyId"]!.stringValue!
        #expect(
            reason { try daemon.resolveCall("resolve", ["workspaceId": "ws1", "provider": "gemini"]) }
                == "no_credential")

        let newKey = daemon.makeKey(named: "second.key")
        daemon.setKeys([newKey, oldKey])
        var toml = try String(contentsOfFile: daemon.configPath, encoding: .utf8)
        let gemini = daemon.directory.write("gemini-builtin.key", "AIzaReloadedPlatformKey\n")
        daemon.remember("AIzaReloadedPlatformKey")
        toml = toml.replacingOccurrences(of: "[builtin]\n", with: "[builtin]\ngemini = \"\(gemini)\"\n")
        toml = toml.replacingOccurrences(of: "[sockets]\n", with: "[sockets]\nadminAllowUids = [4242]\n")
        try toml.write(toFile: daemon.configPath, atomically: true, encoding: .utf8)
        kill(daemon.pid!, SIGHUP)
        #expect(daemon.waitForLog("configuration reloaded"))
        let health = try daemon.adminCall("health")
        #expect(health["activeKeyId"] != .string(oldId))
        #expect(health["builtin"] == ["gemini"])
        #expect(
            try daemon.resolveCall("resolve", ["workspaceId": "ws1", "provider": "gemini"])["source"] == "built_in")
        #expect(
            try daemon.resolveCall("resolve", ["workspaceId": "ws1", "provider": "fal"])["credential"] == [
                "apiKey": "fal-before-reload"
            ])
        #expect(daemon.daemonLog.contains("sockets.adminAllowUids=[4242]"))
        #expect(daemon.daemonLog.contains("keys=\(oldId) -> "))
        #expect(!daemon.daemonLog.contains("AIzaReloadedPlatformKey"))

        try (toml + "\n[limits]\nmaxConnections = -1\n").write(
            toFile: daemon.configPath, atomically: true, encoding: .utf8)
        kill(daemon.pid!, SIGHUP)
        #expect(daemon.waitForLog("configuration reload refused"))
        #expect(daemon.daemonLog.contains("limits.maxConnections"))
        #expect(
            try daemon.resolveCall("resolve", ["workspaceId": "ws1", "provider": "gemini"])["source"] == "built_in")
        #expect(try daemon.adminCall("health")["status"] == "ok")
    }

    @Test("check-config prints the effective settings with secrets as paths, and names every bad key")
    func checkConfig() throws {
        let directory = TemporaryDirectory()
        let key = directory.write("k.key", "c2hvcnQ=\n")
        let good = directory.write(
            "good.toml",
            """
            dataDir = "\(directory.file("d"))"
            [resolve]
            requireGrant = false
            [builtin]
            fal = "\(directory.write("fal.key", "fal-platform-secret\n"))"
            """)
        var result = try ProcessResult.run(Binaries.credsd, ["check-config", "--config", good])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("requireGrant = false"))
        #expect(result.stdout.contains("listenBacklog = 4096"))
        #expect(result.stdout.contains("fal.key"))
        #expect(result.stdout.contains("configuration is valid"))
        #expect(!result.stdout.contains("fal-platform-secret"))

        let bad = directory.write(
            "bad.toml",
            """
            [sockets]
            resolv = "/x"
            [limits]
            maxConnections = 0
            [encryption]
            keyFiles = ["\(key)"]
            """)
        result = try ProcessResult.run(Binaries.credsd, ["check-config", "--config", bad])
        #expect(result.status == 1)
        #expect(result.stderr.contains("sockets.resolv"))
        #expect(result.stderr.contains("limits.maxConnections"))
        #expect(result.stderr.contains("encryption.keyFiles"))
        #expect(!result.stderr.contains("c2hvcnQ"))
    }

    @Test("--log-format json writes one JSON object per line")
    func jsonLogs() throws {
        let directory = TemporaryDirectory()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Binaries.credsd)
        process.arguments = [
            "serve", "--log-format", "json", "--data-dir", directory.file("d"), "--resolve-socket",
            directory.file("r.sock"),
            "--admin-socket", directory.file("a.sock"),
        ]
        let pipe = Pipe()
        process.standardError = pipe
        try process.run()
        var ready = false
        for _ in 0..<200 where !ready {
            ready = (try? CredsClient(socketPath: directory.file("a.sock")).call("health")) != nil
            usleep(20_000)
        }
        process.terminate()
        _ = ChildExit.wait(process)
        let lines = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).split(
            separator: "\n")
        #expect(lines.count >= 3)
        for line in lines {
            let object = try JSONValue.parse(Array(line.utf8))
            #expect(object["level"] != nil && object["message"] != nil && object["time"] != nil)
        }
        #expect(lines.contains { $0.contains("\"message\":\"credsd listening\"") && $0.contains("\"socket.admin\"") })
    }
}
