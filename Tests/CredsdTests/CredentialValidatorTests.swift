import CredsCatalog
import CredsCore
import CredsProtocol
import Testing

@Suite("credential shape validation, per provider")
struct CredentialValidatorTests {
    let validator = CredentialValidator()
    let catalog = ProviderCatalog.bundled

    struct Case: Sendable, CustomTestStringConvertible {
        let provider: String
        let payload: [String: JSONValue]
        /// field → problem code; empty means accepted.
        let problems: [String: String]
        /// fields with an `unknown_shape` warning.
        let warnings: [String]
        var testDescription: String {
            "\(provider) \(problems.isEmpty ? "accepts" : "refuses") \(payload.keys.sorted())"
        }
    }

    static let cases: [Case] = [
        Case(
            provider: "fal",
            payload: ["apiKey": "6f1c2a3b-1111-4222-8333-944455556666:0123456789abcdef0123456789abcdef"], problems: [:],
            warnings: []),
        Case(provider: "fal", payload: ["apiKey": "not-the-fal-shape"], problems: [:], warnings: ["apiKey"]),
        Case(provider: "fal", payload: [:], problems: ["apiKey": "missing"], warnings: []),
        Case(provider: "fal", payload: ["apiKey": ""], problems: ["apiKey": "empty"], warnings: []),
        Case(provider: "fal", payload: ["apiKey": 12], problems: ["apiKey": "wrong_type"], warnings: []),
        Case(provider: "fal", payload: ["apiKey": .null], problems: ["apiKey": "missing"], warnings: []),
        Case(
            provider: "gemini", payload: ["apiKey": "AIzaSyA1234567890abcdefghijklmnopqrstuv"], problems: [:],
            warnings: []),
        Case(provider: "gemini", payload: ["apiKey": "AQ.Ab8RN6Labcdef-ghij_klm"], problems: [:], warnings: []),
        Case(
            provider: "gemini", payload: ["apiKey": "AIza tooshort"], problems: ["apiKey": "whitespace"], warnings: []),
        Case(
            provider: "gemini", payload: ["apiKey": "AIza\u{7}x"], problems: ["apiKey": "control_character"],
            warnings: []),
        Case(provider: "gemini", payload: ["apiKey": "something-else"], problems: [:], warnings: ["apiKey"]),
        Case(provider: "vercel-ai-gateway", payload: ["apiKey": "vck_anything"], problems: [:], warnings: []),
        Case(
            provider: "vercel-ai-gateway", payload: ["apiKey": "k", "token": "t"], problems: ["token": "unknown_field"],
            warnings: []),
        Case(
            provider: "vercel-ai-gateway", payload: ["apiKey": .string(String(repeating: "a", count: 4097))],
            problems: ["apiKey": "too_long"], warnings: []),
        Case(
            provider: "vercel-ai-gateway", payload: ["apiKey": .string(String(repeating: "a", count: 4096))],
            problems: [:], warnings: []),
        Case(provider: "elevenlabs", payload: ["apiKey": "sk_0123"], problems: [:], warnings: []),
        Case(
            provider: "elevenlabs", payload: ["apiKey": "line\nbreak"], problems: ["apiKey": "whitespace"], warnings: []
        ),
        Case(
            provider: "elevenlabs", payload: ["apiKey": "zero\u{200B}width"], problems: ["apiKey": "control_character"],
            warnings: []),
        Case(provider: "resend", payload: ["apiKey": "re_123_abc"], problems: [:], warnings: []),
        Case(
            provider: "resend",
            payload: ["apiKey": "re_123", "webhookSecret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"], problems: [:],
            warnings: []),
        Case(
            provider: "resend", payload: ["apiKey": "re_123", "webhookSecret": "plain-secret"], problems: [:],
            warnings: ["webhookSecret"]),
        Case(
            provider: "resend", payload: ["apiKey": "key_other", "webhookSecret": ["x"]],
            problems: ["webhookSecret": "wrong_type"], warnings: []),
        Case(
            provider: "resend", payload: ["webhookSecret": "whsec_abc"], problems: ["apiKey": "missing"], warnings: []),
    ]

    @Test("payload validation", arguments: cases)
    func validation(_ testCase: Case) throws {
        let provider = try #require(catalog.provider(testCase.provider))
        do {
            let outcome = try validator.validate(testCase.payload, for: provider)
            #expect(testCase.problems.isEmpty, "accepted a payload with problems \(testCase.problems)")
            #expect(outcome.warnings.compactMap { $0["field"]?.stringValue }.sorted() == testCase.warnings.sorted())
            for (name, value) in testCase.payload {
                if let text = value.stringValue { #expect(outcome.fields[name] == text) }
            }
        } catch {
            #expect(error.reason == .invalidCredential)
            let fields = error.data["fields"]?.arrayValue ?? []
            let found = Dictionary(
                uniqueKeysWithValues: fields.map { ($0["field"]!.stringValue!, $0["problem"]!.stringValue!) })
            #expect(found == testCase.problems)
            for value in testCase.payload.values {
                if let text = value.stringValue, text.count > 3 {
                    #expect(!String(decoding: error.json.serialized(), as: UTF8.self).contains(text))
                }
            }
        }
    }

    @Test("the catalog lists every provider of the contract with the right modes")
    func catalogContents() {
        let modes = Dictionary(uniqueKeysWithValues: catalog.providers.map { ($0.id, $0.mode.rawValue) })
        #expect(
            modes == [
                "fal": "service", "gemini": "service", "vercel-ai-gateway": "service", "elevenlabs": "service",
                "resend": "service", "github": "oauth-user", "google-workspace": "oauth-user", "telegram": "none",
                "openclaw": "none",
            ])
        #expect(
            catalog.providers.filter(\.builtIn).map(\.id).sorted() == [
                "elevenlabs", "fal", "gemini", "resend", "vercel-ai-gateway",
            ])
    }
}
