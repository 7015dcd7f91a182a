import CredsProtocol
import Foundation
import Testing

@Suite("credsctl against a real daemon")
struct CredsctlTests {
    @Test("a newcomer's path: member, key from stdin, grant to a file, resolve")
    func newcomerPath() throws {
        let daemon = try DaemonFixture()
        let env = [
            "CREDSD_ADMIN_SOCKET": daemon.adminSocket, "CREDSD_RESOLVE_SOCKET": daemon.resolveSocket,
            "CREDSD_ACTOR": "alice",
        ]
        var result = try ProcessResult.run(
            Binaries.credsctl, ["members", "set", "--workspace", "ws1", "--principal", "alice", "--role", "write"],
            environment: env
        )
        #expect(result.status == 0)
        #expect(result.stdout.contains("role: write"))

        result = try ProcessResult.run(
            Binaries.credsctl,
            [
                "connections", "upsert", "--workspace", "ws1", "--provider", "elevenlabs", "--name", "Voice",
                "--api-key-file", "-",
            ],
            input: "sk_from_stdin_42\n", environment: env
        )
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("status: active"))
        #expect(!result.stdout.contains("sk_from_stdin_42"))

        let grantFile = daemon.directory.file("grant")
        result = try ProcessResult.run(
            Binaries.credsctl, ["grants", "issue", "--workspace", "ws1", "--out", grantFile], environment: env
        )
        #expect(result.status == 0)
        #expect(!result.stdout.contains("cg_"))
        let mode = (try FileManager.default.attributesOfItem(atPath: grantFile)[.posixPermissions] as? NSNumber)?
            .intValue
        #expect(mode == 0o600)

        result = try ProcessResult.run(
            Binaries.credsctl,
            ["resolve", "--workspace", "ws1", "--provider", "elevenlabs", "--grant-file", grantFile, "--json"],
            environment: env
        )
        #expect(result.status == 0, "\(result.stderr)")
        let answer = try JSONValue.parse(Array(result.stdout.utf8))
        #expect(answer["credential"] == ["apiKey": "sk_from_stdin_42"])
        #expect(answer["headers"] == ["xi-api-key": "sk_from_stdin_42"])

        result = try ProcessResult.run(
            Binaries.credsctl, ["connections", "list", "--workspace", "ws1"], environment: env
        )
        #expect(result.status == 0)
        #expect(result.stdout.contains("Voice"))
        #expect(result.stdout.contains("elevenlabs"))

        result = try ProcessResult.run(Binaries.credsctl, ["keys", "rotate"], environment: env)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("rotated: 0"))
        result = try ProcessResult.run(Binaries.credsctl, ["audit", "verify"], environment: env)
        #expect(result.status == 0)
        #expect(result.stdout.contains("ok: yes"))
        result = try ProcessResult.run(Binaries.credsctl, ["audit", "list", "--workspace", "ws1"], environment: env)
        #expect(result.stdout.contains("connections.upsert"))

        // An executor's report of a 429, then the settings page's view: the event.
        result = try ProcessResult.run(
            Binaries.credsctl,
            [
                "report", "--workspace", "ws1", "--provider", "elevenlabs", "--grant-file", grantFile, "--outcome",
                "rate_limited", "--http-status", "429", "--retry-after", "30",
            ],
            environment: env
        )
        #expect(result.status == 0, "\(result.stderr)")
        result = try ProcessResult.run(
            Binaries.credsctl, ["events", "list", "--workspace", "ws1", "--json"], environment: env)
        #expect(result.status == 0, "\(result.stderr)")
        let events = try JSONValue.parse(Array(result.stdout.utf8))["events"]?.arrayValue ?? []
        #expect(events.map { $0["type"]?.stringValue ?? "" } == ["connection.created", "connection.cooling_down"])
    }

    @Test("budgets set and get, policy set with fallbackOn, and usage as a table by day")
    func budgetsAndUsage() throws {
        let daemon = try DaemonFixture(builtin: ["fal": "platform-fal-credsctl"])
        try daemon.addWriter()
        let grant = try daemon.grant()
        let env = [
            "CREDSD_ADMIN_SOCKET": daemon.adminSocket, "CREDSD_RESOLVE_SOCKET": daemon.resolveSocket,
            "CREDSD_ACTOR": "alice",
        ]
        var result = try ProcessResult.run(
            Binaries.credsctl,
            ["budgets", "set", "--workspace", "ws1", "--provider", "fal", "--period", "month", "--max-resolves", "2"],
            environment: env)
        #expect(result.status == 0, "\(result.stderr)")
        result = try ProcessResult.run(
            Binaries.credsctl,
            [
                "policy", "set", "--workspace", "ws1", "--provider", "fal", "--mode", "auto", "--fallback-on",
                "rate_limited,upstream_error",
            ], environment: env)
        #expect(result.status == 0, "\(result.stderr)")
        let policy = try daemon.adminCall("policy.get", ["workspaceId": "ws1", "provider": "fal", "actor": "alice"])
        #expect(policy["fallbackOn"] == ["rate_limited", "upstream_error"])
        for _ in 0..<3 {
            _ = reason {
                try daemon.resolveCall("resolve", ["workspaceId": "ws1", "provider": "fal", "grant": .string(grant)])
            }
        }
        result = try ProcessResult.run(
            Binaries.credsctl, ["budgets", "get", "--workspace", "ws1", "--provider", "fal", "--json"], environment: env
        )
        #expect(result.status == 0, "\(result.stderr)")
        let budget = try JSONValue.parse(Array(result.stdout.utf8))
        #expect(budget["used"]?["resolves"] == 2)
        #expect(budget["budget"]?["period"] == "month")
        result = try ProcessResult.run(Binaries.credsctl, ["usage", "--workspace", "ws1"], environment: env)
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.first?.hasPrefix("DAY") == true)
        #expect(lines.count == 2)
        let today = UTCDay(.now()).description
        #expect(lines.last?.hasPrefix("\(today)  fal") == true)
        #expect(lines.last?.contains("budget_exhausted=1") == true)
        #expect(lines.last?.contains("no_connection=2") == true)
        result = try ProcessResult.run(
            Binaries.credsctl, ["usage", "--workspace", "ws1", "--from", "tomorrow"], environment: env)
        #expect(result.status == 1)
        #expect(result.stderr.contains("invalid_params"))
    }

    @Test("a failure exits non-zero with the reason; usage errors exit 64; an unreachable socket is exit 3")
    func failures() throws {
        let daemon = try DaemonFixture()
        let env = ["CREDSD_ADMIN_SOCKET": daemon.adminSocket, "CREDSD_RESOLVE_SOCKET": daemon.resolveSocket]
        var result = try ProcessResult.run(
            Binaries.credsctl, ["resolve", "--workspace", "ws1", "--provider", "fal"], environment: env
        )
        #expect(result.status == 1)
        #expect(result.stderr.contains("grant_required"))

        result = try ProcessResult.run(
            Binaries.credsctl, ["resolve", "--workspace", "ws1", "--provider", "fal", "--json"], environment: env
        )
        #expect(result.status == 1)
        #expect(try JSONValue.parse(Array(result.stdout.utf8))["error"]?["data"]?["reason"] == "grant_required")

        result = try ProcessResult.run(
            Binaries.credsctl, ["connections", "list", "--workspace", "ws1"], environment: env
        )
        #expect(result.status == 64)

        result = try ProcessResult.run(
            Binaries.credsctl, ["health", "--socket", daemon.directory.file("nothing.sock")]
        )
        #expect(result.status == 3)
        #expect(result.stderr.contains("cannot connect"))
    }

    @Test("call sends any method, with params from the command line or stdin")
    func call() throws {
        let daemon = try DaemonFixture()
        var result = try ProcessResult.run(
            Binaries.credsctl,
            [
                "call", "--socket", daemon.adminSocket, "members.set",
                "{\"workspaceId\":\"ws1\",\"principal\":\"al\",\"role\":\"read\"}", "--json",
            ]
        )
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try JSONValue.parse(Array(result.stdout.utf8))["role"] == "read")
        result = try ProcessResult.run(
            Binaries.credsctl, ["call", "--socket", daemon.adminSocket, "members.list", "-"],
            input: "{\"workspaceId\":\"ws1\"}"
        )
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("al"))
        result = try ProcessResult.run(Binaries.credsctl, ["call", "--socket", daemon.adminSocket, "health", "[1]"])
        #expect(result.status == 64)
    }

    @Test("watch prints events as they happen, one line each, until the daemon closes the stream")
    func watch() throws {
        let daemon = try DaemonFixture()
        try daemon.addWriter()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Binaries.credsctl)
        process.arguments = ["watch", "--socket", daemon.adminSocket, "--json", "--workspace", "ws1"]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        // The watch is in place once its call was answered; an event then reaches the printed stream.
        var line = ""
        for attempt in 0..<50 where line.isEmpty {
            try daemon.upsert(provider: "fal", payload: ["apiKey": .string("fal_ctl_watch_\(attempt)")])
            var descriptor = pollfd(fd: output.fileHandleForReading.fileDescriptor, events: Int16(POLLIN), revents: 0)
            if poll(&descriptor, 1, 200) == 1 {
                line = String(decoding: output.fileHandleForReading.availableData, as: UTF8.self)
            }
        }
        let first = try JSONValue.parse(Array((line.split(separator: "\n").first ?? "").utf8))
        #expect(first["type"] == "connection.created")
        #expect(first["workspaceId"] == "ws1")
        // The daemon stopping ends the stream: exit 0.
        daemon.stop()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
    }
}
