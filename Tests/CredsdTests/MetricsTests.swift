import CredsClient
import CredsProtocol
import Foundation
import Testing

@Suite("stats and Prometheus metrics")
struct MetricsTests {
    /// The value of a sample line `name{labels} value` in Prometheus text, labels matched as given.
    private func sample(_ text: String, _ name: String, _ labels: [String] = []) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(name) && !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            guard parts.count == 2, labels.allSatisfy({ parts[0].contains($0) }) else { continue }
            guard parts[0] == Substring(name) || parts[0].hasPrefix(name + "{") else { continue }
            return Double(parts[1])
        }
        return nil
    }

    @Test("stats and /metrics count requests, resolutions by source and latency, and agree")
    func statsAndMetrics() throws {
        let port = HTTPGet.freePort()
        let daemon = try DaemonFixture(
            mode: .process,
            configExtra: "[resolve]\nrequireGrant = false\n\n[metrics]\nlisten = \"127.0.0.1:\(port)\"\n",
            builtin: ["fal": "platform-fal-key"]
        )
        try daemon.addWriter()
        try daemon.upsert(provider: "elevenlabs", payload: ["apiKey": "sk_metrics_key"])
        let resolver = try daemon.resolver()
        for _ in 0..<3 { _ = try resolver.call("resolve", ["workspaceId": "ws1", "provider": "fal"]) }
        for _ in 0..<2 { _ = try resolver.call("resolve", ["workspaceId": "ws1", "provider": "elevenlabs"]) }
        _ = reason { try resolver.call("resolve", ["workspaceId": "ws1", "provider": "gemini"]) }
        _ = reason { try resolver.call("sk_this_is_not_a_method", [:]) }

        let stats = try daemon.adminCall("stats")
        #expect(stats["requests"]?["byMethod"]?["resolve"] == ["ok": 5, "no_credential": 1])
        #expect(stats["requests"]?["byMethod"]?["unknown"] == ["method_not_found": 1])
        #expect(stats["resolutions"]?["fal"]?["built_in"] == 3)
        #expect(stats["resolutions"]?["elevenlabs"]?["byo"] == 2)
        #expect(stats["resolveLatencyMicros"]?["count"] == 6)
        #expect((stats["resolveLatencyMicros"]?["p50"]?.intValue ?? 0) > 0)
        #expect((stats["openConnections"]?["resolve"]?.intValue ?? 0) >= 1)
        #expect((stats["store"]?["usedBytes"]?.intValue ?? 0) > 0)
        let text = String(decoding: stats.serialized(), as: UTF8.self)
        #expect(
            !text.contains("sk_this_is_not_a_method") && !text.contains("sk_metrics_key")
                && !text.contains("platform-fal-key"))

        let (status, body) = try HTTPGet.get(port: port, path: "/metrics")
        #expect(status == 200)
        #expect(sample(body, "credsd_requests_total", ["method=\"resolve\"", "reason=\"ok\""]) == 5)
        #expect(sample(body, "credsd_resolutions_total", ["provider=\"fal\"", "source=\"built_in\""]) == 3)
        #expect(sample(body, "credsd_resolutions_total", ["provider=\"elevenlabs\"", "source=\"byo\""]) == 2)
        #expect(sample(body, "credsd_resolve_duration_seconds_count") == 6)
        #expect(sample(body, "credsd_open_connections", ["socket=\"resolve\""]) ?? 0 >= 1)
        #expect(sample(body, "credsd_store_bytes") ?? 0 > 0)
        #expect(sample(body, "credsd_uptime_seconds") != nil)
        #expect(!body.contains("sk_this_is_not_a_method") && !body.contains("sk_metrics_key"))
        #expect(try HTTPGet.get(port: port, path: "/other").status == 404)

        let cli = try ProcessResult.run(Binaries.credsctl, ["stats", "--socket", daemon.adminSocket])
        #expect(cli.status == 0)
        #expect(cli.stdout.contains("resolveLatencyMicros"))
    }

    @Test("the metrics listener is off unless configured")
    func offByDefault() throws {
        let daemon = try DaemonFixture(mode: .process)
        #expect(daemon.waitForLog("metrics.listen=off"))
    }
}
