import CredsCore
import CredsCrypto
import CredsProtocol
import CredsTesting
import Logging
import NIOCore
import NIOPosix
import Testing

/// The connection pipeline (frame decoder and request handler) on an `EmbeddedChannel`, over a real engine and
/// store: framing and dispatch without a socket.
@Suite("the request pipeline on an embedded channel")
struct EmbeddedPipelineTests {
    /// An engine with a Fal.ai connection in `ws1` (grants not required), and the resolve socket's methods.
    final class Fixture {
        let directory = TemporaryDirectory()
        let database: CredsDatabase
        let engine: CredsEngine

        init() throws {
            database = try CredsDatabase(directory: directory.path)
            var resolveConfig = ResolveConfig()
            resolveConfig.requireGrant = false
            engine = CredsEngine(
                database: database, keyRing: KeyRing(keys: [MasterKey.generate()]), builtinKeys: [:],
                resolveConfig: resolveConfig, logger: Logger(label: "test"))
            let admin = MethodRegistry.adminSocket(engine)
            let loop = MultiThreadedEventLoopGroup.singleton.next()
            _ = try admin.call("members.set", ["workspaceId": "ws1", "principal": "alice", "role": "write"], on: loop)
                .wait()
            _ = try admin.call(
                "connections.upsert",
                [
                    "workspaceId": "ws1", "provider": "fal", "displayName": "k", "actor": "alice",
                    "credentialPayload": ["apiKey": "fal-embedded-key"],
                ], on: loop
            ).wait()
        }

        deinit { database.close() }
    }

    static func frame(_ id: Int, _ method: String = "resolve", workspace: String = "ws1") -> [UInt8] {
        Frame.encode(
            Array(
                #"{"jsonrpc":"2.0","id":\#(id),"method":"\#(method)","params":{"workspaceId":"\#(workspace)","provider":"fal"}}"#
                    .utf8))
    }

    @Test("a frame fed one byte at a time is answered once, whole")
    func byteByByte() throws {
        let fixture = try Fixture()
        let rpc = try EmbeddedRPC(methods: .resolveSocket(fixture.engine))
        let frame = Self.frame(1)
        for byte in frame.dropLast() {
            try rpc.send([byte])
            #expect(try rpc.answers().isEmpty)
        }
        try rpc.send([frame.last!])
        let answers = try rpc.answers()
        #expect(answers.count == 1)
        #expect(answers.first?["result"]?["credential"]?["apiKey"] == "fal-embedded-key")
        #expect(answers.first?["id"] == 1)
    }

    @Test("frames arriving together are answered in order, each with its own id and outcome")
    func pipelined() throws {
        let fixture = try Fixture()
        let rpc = try EmbeddedRPC(methods: .resolveSocket(fixture.engine))
        try rpc.send(Self.frame(1) + Self.frame(2, workspace: "nobody") + Self.frame(3, "stats") + Self.frame(4))
        let answers = try rpc.answers()
        #expect(answers.map { $0["id"] } == [1, 2, 3, 4])
        #expect(answers[0]["result"]?["source"] == "byo")
        #expect(answers[1]["error"]?["data"]?["reason"] == "no_credential")
        #expect(answers[2]["error"]?["data"]?["reason"] == "method_not_found")
        #expect(answers[3]["result"]?["workspaceId"] == "ws1")
    }

    @Test("a frame larger than the socket takes is refused and the connection closed")
    func tooLarge() throws {
        let fixture = try Fixture()
        let rpc = try EmbeddedRPC(methods: .resolveSocket(fixture.engine), maxFrameBytes: 1_024)
        try rpc.send([0, 0, 0x10, 0])
        let answers = try rpc.answers()
        #expect(answers.first?["error"]?["data"]?["reason"] == "frame_too_large")
        #expect(answers.first?["error"]?["data"]?["announced"] == 4_096)
        #expect(!rpc.channel.isActive)
    }
}
