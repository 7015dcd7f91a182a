import CredsProtocol
import Foundation
import Testing

/// Keeps bench/loadgen.c and bench/baseline.c building and answering correctly; measures nothing.
@Suite("benchmark tools smoke run")
struct LoadGeneratorSmokeTests {
    static let benchDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("bench")
    static let hasCompiler = FileManager.default.isExecutableFile(atPath: "/usr/bin/cc")

    private func compile(_ name: String, into directory: TemporaryDirectory) throws -> String {
        let output = directory.file(name)
        let result = try ProcessResult.run(
            "/usr/bin/cc",
            ["-O2", "-Wall", "-Werror", "-o", output, Self.benchDirectory.appendingPathComponent("\(name).c").path]
        )
        #expect(result.status == 0, "\(result.stderr)")
        return output
    }

    @Test(
        "loadgen drives a few hundred resolves with a grant and every answer carries the credential",
        .enabled(if: hasCompiler))
    func smoke() throws {
        let daemon = try DaemonFixture(mode: .process)
        let tools = TemporaryDirectory()
        let loadgen = try compile("loadgen", into: tools)
        let baseline = try compile("baseline", into: tools)
        try daemon.addWriter()
        try daemon.upsert(provider: "fal", payload: ["apiKey": "smoke-key"])
        let grant = try daemon.grant()
        let payload = tools.write(
            "resolve.json",
            String(
                decoding: JSONValue.object([
                    "jsonrpc": "2.0", "id": 1, "method": "resolve",
                    "params": ["workspaceId": "ws1", "provider": "fal", "grant": .string(grant)],
                ]).serialized(), as: UTF8.self))
        let result = try ProcessResult.run(
            loadgen,
            [
                "--socket", daemon.resolveSocket, "--connections", "4", "--payload", payload, "--requests", "400",
                "--expect", "\"smoke-key\"", "--server-pid", String(try #require(daemon.pid)),
            ]
        )
        #expect(result.status == 0, "\(result.stdout) \(result.stderr)")
        let fields = Dictionary(
            uniqueKeysWithValues: result.stdout.split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap {
                pair -> (String, String)? in
                let parts = pair.split(separator: "=").map {
                    String($0).trimmingCharacters(in: .whitespacesAndNewlines)
                }
                return parts.count == 2 ? (parts[0], parts[1]) : nil
            })
        #expect(Int(fields["requests"] ?? "0")! >= 400)
        #expect(fields["errors"] == "0")
        // The daemon's CPU per request, from its threads' schedstat: present and positive (its size is make bench's).
        #expect((Double(fields["server_cpu_us_per_req"] ?? "") ?? 0) > 0, "\(result.stdout)")

        let baselineSocket = tools.file("baseline.sock")
        let server = Process()
        server.executableURL = URL(fileURLWithPath: baseline)
        server.arguments = ["--socket", baselineSocket, "--answer-bytes", "300"]
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer {
            kill(server.processIdentifier, SIGKILL)
            _ = ChildExit.wait(server)
        }
        // Up to 10 s: on a loaded machine (a build beside the tests) the server takes its time to bind.
        for _ in 0..<1_000 where !FileManager.default.fileExists(atPath: baselineSocket) { usleep(10_000) }
        let base = try ProcessResult.run(
            loadgen, ["--socket", baselineSocket, "--connections", "2", "--payload", payload, "--requests", "200"])
        #expect(base.status == 0, "\(base.stdout) \(base.stderr)")
        #expect(base.stdout.contains("errors=0"))
    }
}
