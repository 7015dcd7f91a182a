import CredsClient
import CredsProtocol
import Foundation
import Synchronization
import Testing

/// Random and mutated frames against a running daemon on both sockets, while another client keeps resolving
/// and must keep getting the right credential. SOCKET_FUZZ_FRAMES (default 3,000) and SOCKET_FUZZ_SEED
/// change the run; the seed is printed so a failure can be replayed.
@Suite("socket fuzz")
struct SocketFuzzTests {
    static let corpus = FuzzCorpusTests.corpus.appendingPathComponent("rpc-request")

    @Test("mutated and random frames: every well-framed one answered once, the daemon and other clients unharmed")
    func fuzzBothSockets() throws {
        let environment = ProcessInfo.processInfo.environment
        let frames = Int(environment["SOCKET_FUZZ_FRAMES"] ?? "") ?? 3_000
        let seed = UInt64(environment["SOCKET_FUZZ_SEED"] ?? "") ?? UInt64.random(in: 0...UInt64.max)
        print("socket fuzz: seed \(seed), \(frames) frames")
        var random = SplitMix64(seed: seed)

        let daemon = try DaemonFixture(mode: .process, configExtra: "[resolve]\nrequireGrant = false\n")
        // The corpus requests act as alice in ws1 (and may well write there); the bystander's key lives in wsB.
        try daemon.addWriter()
        try daemon.addWriter(workspace: "wsB")
        let connectionId = try daemon.upsert(
            provider: "elevenlabs", payload: ["apiKey": "sk_fuzz_bystander_0001"], workspace: "wsB")
        let seeds =
            try FileManager.default.contentsOfDirectory(atPath: Self.corpus.path).sorted().map {
                try [UInt8](Data(contentsOf: Self.corpus.appendingPathComponent($0)))
            } + Self.requests.map { Array($0.utf8) }

        // The bystander: resolves without pause on its own connection, checking every answer.
        let stop = Mutex(false)
        let bystander = Mutex((resolves: 0, wrong: [String]()))
        let resolveSocket = daemon.resolveSocket
        let finished = DispatchSemaphore(value: 0)
        let thread = Thread {
            defer { finished.signal() }
            guard let client = try? CredsClient(socketPath: resolveSocket, timeoutSeconds: 10) else {
                bystander.withLock { $0.wrong.append("could not connect") }
                return
            }
            while !stop.withLock({ $0 }) {
                do {
                    let answer = try client.call(
                        "resolve",
                        [
                            "workspaceId": "wsB", "provider": "elevenlabs", "connectionId": .string(connectionId),
                        ])
                    let key = answer["credential"]?["apiKey"]?.stringValue
                    bystander.withLock {
                        $0.resolves += 1
                        if key != "sk_fuzz_bystander_0001" { $0.wrong.append("wrong credential") }
                    }
                } catch {
                    bystander.withLock { $0.wrong.append("\(error)") }
                    return
                }
            }
        }
        thread.start()

        var sent = 0
        var answered = 0
        var sessions = 0
        while sent < frames {
            sessions += 1
            let socket = Bool.random(using: &random) ? daemon.resolveSocket : daemon.adminSocket
            let client = try CredsClient(socketPath: socket, timeoutSeconds: 10)
            let count = Int.random(in: 1...20, using: &random)
            if random.next() % 4 == 0 {
                // Raw bytes: any length prefix, cut anywhere; the daemon may wait, refuse or close.
                for _ in 0..<count {
                    var bytes = Self.mutate(Frame.encode(seeds.randomElement(using: &random)!), using: &random)
                    if random.next() % 3 == 0 {
                        bytes = (0..<Int.random(in: 0...64, using: &random)).map { _ in
                            UInt8.random(in: 0...255, using: &random)
                        }
                    }
                    if (try? client.sendRaw(bytes)) == nil { break }
                }
                sent += count
                continue
            }
            // Well-framed payloads: each gets exactly one answer, then the closing request gets its own.
            var payloads = (0..<count).map { _ in Self.mutate(seeds.randomElement(using: &random)!, using: &random) }
            payloads = payloads.map { $0.count > 60_000 ? Array($0.prefix(60_000)) : $0 }
            try client.sendRaw(
                payloads.flatMap { Frame.encode($0) }
                    + Frame.encode(Array(#"{"jsonrpc":"2.0","id":"end","method":"health"}"#.utf8)))
            sent += count
            // Answers may come out of order (a write answers after its commit, health at once): read count + 1.
            var answers = 0
            var sawEnd = false
            for _ in 0...count {
                let answer = try client.readAnswer()
                if answer["id"] == "end" && !sawEnd {
                    sawEnd = true
                    continue
                }
                answers += 1
                #expect(Self.isWellFormed(answer), "malformed answer \(answer) (seed \(seed))")
            }
            #expect(sawEnd, "\(count) frames: the closing request was not answered (seed \(seed))")
            answered += answers
        }
        stop.withLock { $0 = true }
        finished.wait()

        let outcome = bystander.withLock { $0 }
        print(
            "socket fuzz: \(sent) frames in \(sessions) connections, \(answered) answers checked; bystander \(outcome.resolves) resolves"
        )
        #expect(outcome.wrong.isEmpty, "bystander: \(outcome.wrong.prefix(3)) (seed \(seed))")
        #expect(outcome.resolves > 0)
        #expect(daemon.process?.isRunning == true)
        #expect(try daemon.adminCall("health")["status"] != nil)
        let last = try daemon.resolveCall(
            "resolve", ["workspaceId": "wsB", "provider": "elevenlabs", "connectionId": .string(connectionId)])
        #expect(last["credential"]?["apiKey"] == "sk_fuzz_bystander_0001", "\(last)")
    }

    /// Requests of each socket with an actor who is no member anywhere: mutations cannot change real data.
    static let requests = [
        #"{"jsonrpc":"2.0","id":1,"method":"connections.upsert","params":{"workspaceId":"wsF","provider":"fal","displayName":"x","credentialPayload":{"apiKey":"k_123"},"actor":"mallory"}}"#,
        #"{"jsonrpc":"2.0","id":2,"method":"policies.set","params":{"workspaceId":"wsF","provider":"gemini","mode":"byo","actor":"mallory"}}"#,
        #"{"jsonrpc":"2.0","id":3,"method":"connections.list","params":{"workspaceId":"wsF","actor":"mallory"}}"#,
        #"{"jsonrpc":"2.0","id":4,"method":"resolve","params":{"workspaceId":"wsF","provider":"elevenlabs"}}"#,
        #"{"jsonrpc":"2.0","id":"5","method":"grants.issue","params":{"workspaceId":"wsF","actor":"mallory","ttlSeconds":60}}"#,
        #"{"jsonrpc":"2.0","id":6,"method":"audit.list","params":{"since":0,"limit":2}}"#,
        #"{"jsonrpc":"2.0","id":7,"method":"connections.status","params":{"workspaceId":"wsF"}}"#,
    ]

    /// Bit flips, byte changes, cuts, splices and repeats.
    static func mutate(_ input: [UInt8], using random: inout SplitMix64) -> [UInt8] {
        var bytes = input
        for _ in 0..<Int.random(in: 0...4, using: &random) {
            switch random.next() % 6 {
            case 0 where !bytes.isEmpty:
                bytes[Int.random(in: 0..<bytes.count, using: &random)] ^= UInt8(1 << (random.next() % 8))
            case 1 where !bytes.isEmpty:
                bytes[Int.random(in: 0..<bytes.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
            case 2 where !bytes.isEmpty:
                bytes.removeSubrange(Int.random(in: 0..<bytes.count, using: &random)...)
            case 3:
                let at = Int.random(in: 0...bytes.count, using: &random)
                bytes.insert(contentsOf: [UInt8](#"{"[]"\,:0e-}"#.utf8).shuffled(using: &random).prefix(3), at: at)
            case 4 where !bytes.isEmpty:
                let start = Int.random(in: 0..<bytes.count, using: &random)
                bytes += bytes[start...]
            default:
                break
            }
        }
        return bytes
    }

    /// A JSON-RPC 2.0 answer: a result, or an error with a code and a reason from SPEC section 8.
    static func isWellFormed(_ answer: JSONValue) -> Bool {
        guard answer["jsonrpc"] == "2.0", answer["id"] != nil else { return false }
        if answer["result"] != nil { return answer["error"] == nil }
        guard let error = answer["error"], error["code"]?.intValue != nil,
            let reason = error["data"]?["reason"]?.stringValue
        else { return false }
        return ErrorReason(rawValue: reason) != nil
    }
}
