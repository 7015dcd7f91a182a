import CredsProtocol
import Foundation
import Testing

@testable import CredsFuzzTargets

/// Replays the committed corpus (`fuzz/corpus/TARGET/`) through the fuzz targets `make fuzz` drives.
/// A crash libFuzzer finds is copied into the corpus, so this is also the regression test for it.
@Suite("fuzz corpus replay")
struct FuzzCorpusTests {
    static let corpus = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("fuzz/corpus")

    @Test("every corpus input keeps the target's properties", arguments: FuzzTarget.allCases)
    func replay(_ target: FuzzTarget) throws {
        let directory = Self.corpus.appendingPathComponent(target.rawValue)
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        #expect(names.count >= 10, "the seed corpus of \(target.rawValue) is missing")
        for name in names {
            let input = try [UInt8](Data(contentsOf: directory.appendingPathComponent(name)))
            let finding = target.run(input)
            #expect(finding == nil, "\(target.rawValue)/\(name): \(finding?.description ?? "")")
        }
    }

    /// The replay above only means something if the targets' oracles see what they should: the one-pass
    /// reading and the decoder fed in pieces agree with a hand-written expectation, and a refusal text is searched.
    @Test("the frame target's two readings match a hand-written expectation")
    func frameReadings() {
        let stream: [UInt8] = [0, 0, 0, 2] + Array("ab".utf8) + [0, 0, 0, 0] + [0, 0, 0, 9] + Array("123456789".utf8)
        let expected: [FrameDecoderTarget.Event] = [.frame(Array("ab".utf8)), .empty, .tooLarge(9)]
        #expect(FrameDecoderTarget.reference(stream, limit: 8) == expected)
        #expect(FrameDecoderTarget.decodeInPieces(stream, limit: 8, pieceSize: 3) == expected)
        #expect(FrameDecoderTarget.decodeInPieces(stream, limit: 64, pieceSize: 1).count == 3)
    }

    @Test("the credential target sees field names but no values in a refusal")
    func refusalText() throws {
        let provider = try #require(CredentialPayloadTarget.providers.first { $0.id == "elevenlabs" })
        let text = CredentialPayloadTarget.refusalText(
            ["apiKey": "sk with space", "strayField": "value-of-stray-field"], provider)
        #expect(text.contains("strayField"))
        #expect(text.contains("invalid_credential"))
        #expect(!text.contains("value-of-stray-field"))
        #expect(CredentialPayloadTarget.refusalText(["apiKey": "sk_0123456789"], provider).isEmpty)
    }

    @Test("the methods target refuses internal errors, foreign errors, leaked secrets and cross-tenant credentials")
    func methodOracle() {
        let seeds = MethodSeeds()
        let ok: MethodFixture.Outcome = .answered(["status": "ok"])
        #expect(MethodCallTarget.check(ok, method: "health", params: [:], seeds: seeds) == nil)
        let refused: MethodFixture.Outcome = .failed(RPCError(.timestampOutOfTolerance, "too old"))
        #expect(MethodCallTarget.check(refused, method: "events.verify", params: [:], seeds: seeds) == nil)

        let internalError: MethodFixture.Outcome = .failed(RPCError(.internalError, "the store could not be read"))
        #expect(MethodCallTarget.check(internalError, method: "resolve", params: [:], seeds: seeds) != nil)
        #expect(
            MethodCallTarget.check(.failed(CancellationError()), method: "resolve", params: [:], seeds: seeds) != nil)
        #expect(MethodCallTarget.check(.timedOut, method: "resolve", params: [:], seeds: seeds) != nil)

        let webhookSecret: MethodFixture.Outcome = .answered([
            "credential": ["apiKey": .string("x" + seeds.webhookSecret)]
        ])
        #expect(MethodCallTarget.check(webhookSecret, method: "resolve", params: [:], seeds: seeds) != nil)
        let inError: MethodFixture.Outcome = .failed(RPCError(.forbidden, "not \(seeds.googleRefreshToken)"))
        #expect(MethodCallTarget.check(inError, method: "connections.get", params: [:], seeds: seeds) != nil)

        let otherKey: MethodFixture.Outcome = .answered(["credential": ["apiKey": .string(seeds.otherGeminiKey)]])
        let own: [String: JSONValue] = ["workspaceId": .string(MethodSeeds.otherWorkspace)]
        let lookAlike: [String: JSONValue] = ["workspaceId": "ws_othe\u{0072}\u{0301}"]
        #expect(MethodCallTarget.check(otherKey, method: "resolve", params: own, seeds: seeds) == nil)
        #expect(MethodCallTarget.check(otherKey, method: "resolve", params: lookAlike, seeds: seeds) != nil)
        #expect(MethodCallTarget.check(otherKey, method: "explain", params: own, seeds: seeds) != nil)
    }

    @Test("the token-reply target reads a plausible reply exactly and refuses one read otherwise")
    func tokenReplyOracle() {
        let now = Timestamp(microseconds: 1_767_225_600_000_000)
        #expect(TokenReplyTarget.tokenGrant(["access_token": "t", "expires_in": 3600], now: now) == nil)
        #expect(TokenReplyTarget.tokenGrant(["error": "invalid_grant"], now: now) == nil)
        #expect(TokenReplyTarget.tokenGrant(["access_token": "t", "expires_in": .int(Int64.max)], now: now) == nil)
        let page: JSONValue = ["total_count": 1, "installations": [["id": 4242, "app_id": 424_242]]]
        #expect(TokenReplyTarget.installationPage(page) == nil)
        #expect(TokenReplyTarget.installationPage(["installations": "none"]) == nil)
    }
}
