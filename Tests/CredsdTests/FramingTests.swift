import CredsClient
import CredsProtocol
import Testing

@Suite("framing and JSON-RPC envelope on a real socket")
struct FramingTests {
    static let daemonConfig = "[resolve]\nrequireGrant = false\n"

    private func request(_ id: Int64, _ method: String, _ params: JSONValue = [:]) -> [UInt8] {
        JSONValue.object(["jsonrpc": "2.0", "id": .int(id), "method": .string(method), "params": params]).serialized()
    }

    @Test("a zero-length frame is invalid_request and the connection stays usable")
    func zeroLength() throws {
        let daemon = try DaemonFixture(configExtra: Self.daemonConfig)
        let client = try daemon.resolver()
        try client.sendRaw([0, 0, 0, 0])
        let answer = try client.readAnswer()
        #expect(answer["id"] == .null)
        #expect(answer["error"]?["data"]?["reason"] == "invalid_request")
        #expect(try client.call("health")["status"] == "ok")
    }

    @Test("a frame over the socket's limit is frame_too_large and the connection closes")
    func overLimit() throws {
        let daemon = try DaemonFixture(configExtra: Self.daemonConfig)
        let resolve = try daemon.resolver()
        try resolve.sendRaw([0, 1, 0, 1])
        let answer = try resolve.readAnswer()
        #expect(answer["error"]?["data"]?["reason"] == "frame_too_large")
        #expect(answer["error"]?["code"] == .int(ErrorReason.frameTooLarge.code))
        #expect(answer["id"] == .null)
        #expect(resolve.isClosedByPeer())

        let admin = try daemon.admin()
        try admin.sendRaw([0, 0x10, 0, 1])
        #expect(try admin.readAnswer()["error"]?["data"]?["reason"] == "frame_too_large")
        #expect(admin.isClosedByPeer())

        let big = try daemon.admin()
        let padding = String(repeating: "x", count: 70_000)
        let result = try big.call("providers.list")
        #expect(result["providers"] != nil)
        #expect(reason { try big.call("health", ["pad": .string(padding)]) } == "invalid_params")
    }

    @Test("a frame split across many writes is read whole")
    func splitFrame() throws {
        let daemon = try DaemonFixture(configExtra: Self.daemonConfig)
        let client = try daemon.resolver()
        for byte in Frame.encode(request(7, "health")) {
            try client.sendRaw([byte])
        }
        let answer = try client.readAnswer()
        #expect(answer["id"] == 7)
        #expect(answer["result"]?["status"] == "ok")
    }

    @Test("many frames in one write are all answered, each with its id")
    func pipelined() throws {
        let daemon = try DaemonFixture(configExtra: Self.daemonConfig)
        let client = try daemon.admin()
        var bytes: [UInt8] = []
        for id in 1...50 {
            bytes += Frame.encode(
                request(
                    Int64(id), id % 2 == 0 ? "health" : "members.set",
                    id % 2 == 0 ? [:] : ["workspaceId": "ws1", "principal": .string("p\(id)"), "role": "read"]))
        }
        try client.sendRaw(bytes)
        var seen = Set<Int64>()
        for _ in 1...50 {
            let answer = try client.readAnswer()
            #expect(answer["error"] == nil)
            seen.insert(answer["id"]!.intValue!)
        }
        #expect(seen == Set(1...50))
    }

    @Test("invalid UTF-8, invalid JSON, non-objects and missing methods are answered and the connection kept")
    func malformedRequests() throws {
        let daemon = try DaemonFixture(configExtra: Self.daemonConfig)
        let client = try daemon.resolver()
        let cases: [([UInt8], String)] = [
            ([0xFF, 0xFE, 0x7B], "parse_error"),
            (Array("{\"jsonrpc\":\"2.0\",".utf8), "parse_error"),
            (Array("[1,2,3]".utf8), "invalid_request"),
            (Array("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"health\"}]".utf8), "invalid_request"),
            (Array("42".utf8), "invalid_request"),
            (Array("{\"jsonrpc\":\"2.0\",\"id\":3}".utf8), "invalid_request"),
            (Array("{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":5}".utf8), "invalid_request"),
            (Array("{\"jsonrpc\":\"1.0\",\"id\":3,\"method\":\"health\"}".utf8), "invalid_request"),
            (Array("{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"health\",\"params\":[1]}".utf8), "invalid_params"),
            (Array("{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"nope\"}".utf8), "method_not_found"),
        ]
        for (payload, expected) in cases {
            try client.sendFrame(payload)
            let answer = try client.readAnswer()
            #expect(answer["error"]?["data"]?["reason"] == .string(expected), "payload \(payload)")
            #expect(answer["jsonrpc"] == "2.0")
        }
        #expect(try client.call("health")["status"] == "ok")
    }

    @Test("a method sent to the wrong socket is method_not_found")
    func wrongSocket() throws {
        let daemon = try DaemonFixture(configExtra: Self.daemonConfig)
        #expect(
            reason { try daemon.adminCall("resolve", ["workspaceId": "ws1", "provider": "fal"]) } == "method_not_found")
        #expect(
            reason { try daemon.resolveCall("connections.list", ["workspaceId": "ws1", "actor": "a"]) }
                == "method_not_found")
        #expect(
            reason { try daemon.resolveCall("members.set", ["workspaceId": "ws1", "principal": "a", "role": "write"]) }
                == "method_not_found")
        #expect(try daemon.resolveCall("providers.list")["providers"]?.arrayValue?.count == 9)
        #expect(try daemon.adminCall("health")["version"] != nil)
    }

    @Test("error codes follow the documented table")
    func errorCodes() throws {
        let daemon = try DaemonFixture(configExtra: Self.daemonConfig)
        let error = remoteError { try daemon.resolveCall("resolve", ["workspaceId": "ws1", "provider": "nope"]) }
        #expect(error?.code == ErrorReason.unknownProvider.code)
        #expect(remoteError { try daemon.resolveCall("nope") }?.code == -32601)
    }
}
