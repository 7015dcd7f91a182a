import CredsClient
import CredsCrypto
import CredsProtocol
import Foundation
import Testing

@Suite("events.verify: Resend webhooks, Svix scheme")
struct WebhookTests {
    static let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

    @Test("HMAC matches Svix's published example")
    func svixVector() throws {
        let key = try #require(Base64.decodeSecret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".utf8))
        let mac = HMAC.sha256(
            key: key, message: Array("msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.{\"test\": 2432232314}".utf8))
        #expect(mac.withUnsafeBytes { Base64.encode($0) } == "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
    }

    private func sign(_ id: String, _ timestamp: Int, _ body: String, secret: String = WebhookTests.secret) -> String {
        let key = Base64.decodeSecret(secret.dropFirst(6).utf8)!
        let mac = HMAC.sha256(key: key, message: Array("\(id).\(timestamp).\(body)".utf8))
        return "v1," + mac.withUnsafeBytes { Base64.encode($0) }
    }

    private func verify(
        _ daemon: DaemonFixture,
        id: String,
        timestamp: Int,
        signature: String,
        body: String,
        headerCase: (String) -> String = { $0 }
    ) throws -> JSONValue {
        try daemon.resolveCall(
            "events.verify",
            [
                "workspaceId": "ws1", "provider": "resend", "body": .string(body),
                "headers": .object([
                    headerCase("svix-id"): .string(id), headerCase("svix-timestamp"): .string(String(timestamp)),
                    headerCase("svix-signature"): .string(signature), "content-type": "application/json",
                ]),
            ]
        )
    }

    private func daemonWithSecret() throws -> DaemonFixture {
        let daemon = try DaemonFixture(configExtra: "[resolve]\nrequireGrant = false\n")
        try daemon.addWriter()
        try daemon.upsert(provider: "resend", payload: ["apiKey": "re_abc", "webhookSecret": .string(Self.secret)])
        return daemon
    }

    @Test("a valid signature verifies and returns the event; header names are case-insensitive")
    func valid() throws {
        let daemon = try daemonWithSecret()
        let now = Int(Date().timeIntervalSince1970)
        let body = "{\"type\":\"email.delivered\",\"data\":{\"email_id\":\"e1\"}}"
        let result = try verify(daemon, id: "msg_1", timestamp: now, signature: sign("msg_1", now, body), body: body) {
            $0.uppercased()
        }
        #expect(result["verified"] == true)
        #expect(result["event"]?["type"] == "email.delivered")
        #expect(!String(decoding: result.serialized(), as: UTF8.self).contains("MfKQ9r8"))
    }

    @Test("one of several signatures may match; none matching is signature_invalid")
    func severalSignatures() throws {
        let daemon = try daemonWithSecret()
        let now = Int(Date().timeIntervalSince1970)
        let body = "{\"n\":1}"
        let wrong = sign("msg_2", now, body, secret: "whsec_b3RoZXJzZWNyZXRvdGhlcnNlY3JldA==")
        let several = "v1,bm90LWEtc2lnbmF0dXJl \(wrong) \(sign("msg_2", now, body)) v2,ignored"
        #expect(try verify(daemon, id: "msg_2", timestamp: now, signature: several, body: body)["verified"] == true)
        #expect(
            reason { try verify(daemon, id: "msg_3", timestamp: now, signature: wrong, body: body) }
                == "signature_invalid")
        let tampered = sign("msg_4", now, body)
        #expect(
            reason { try verify(daemon, id: "msg_4", timestamp: now, signature: tampered, body: "{\"n\":2}") }
                == "signature_invalid")
        #expect(
            reason { try verify(daemon, id: "msg_5", timestamp: now, signature: "garbage", body: body) }
                == "signature_invalid")
    }

    @Test("timestamps more than 5 minutes off either way are refused")
    func tolerance() throws {
        let daemon = try daemonWithSecret()
        let now = Int(Date().timeIntervalSince1970)
        for offset in [-301, 301] {
            let stamp = now + offset
            #expect(
                reason {
                    try verify(
                        daemon, id: "m\(offset)", timestamp: stamp, signature: sign("m\(offset)", stamp, "{}"),
                        body: "{}")
                } == "timestamp_out_of_tolerance")
        }
        let edge = now - 290
        #expect(
            try verify(daemon, id: "edge", timestamp: edge, signature: sign("edge", edge, "{}"), body: "{}")["verified"]
                == true)
    }

    @Test("credsctl events verify reads headers and the raw body from files")
    func credsctl() throws {
        let daemon = try daemonWithSecret()
        let now = Int(Date().timeIntervalSince1970)
        let body = "{\"type\":\"email.bounced\"}\n"
        let headers: JSONValue = [
            "Svix-Id": "msg_cli", "Svix-Timestamp": .string(String(now)),
            "Svix-Signature": .string(sign("msg_cli", now, body)),
        ]
        let headersFile = daemon.directory.write("headers.json", String(decoding: headers.serialized(), as: UTF8.self))
        let bodyFile = daemon.directory.write("body.json", body)
        let result = try ProcessResult.run(
            Binaries.credsctl,
            [
                "events", "verify", "--workspace", "ws1", "--headers-file", headersFile, "--body-file", bodyFile,
                "--socket", daemon.resolveSocket, "--json",
            ]
        )
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try JSONValue.parse(Array(result.stdout.utf8))["event"]?["type"] == "email.bounced")
    }

    @Test("a replayed svix-id is refused")
    func replay() throws {
        let daemon = try daemonWithSecret()
        let now = Int(Date().timeIntervalSince1970)
        let signature = sign("msg_r", now, "{}")
        #expect(try verify(daemon, id: "msg_r", timestamp: now, signature: signature, body: "{}")["verified"] == true)
        #expect(
            reason { try verify(daemon, id: "msg_r", timestamp: now, signature: signature, body: "{}") } == "replayed")
    }

    @Test("missing headers are invalid_params; no stored secret is no_credential; grants apply")
    func refusals() throws {
        let daemon = try DaemonFixture()
        try daemon.addWriter()
        let grant = try daemon.grant()
        let params: [String: JSONValue] = [
            "workspaceId": "ws1", "provider": "resend", "grant": .string(grant), "body": "{}",
            "headers": ["svix-id": "a", "svix-timestamp": "1"],
        ]
        #expect(reason { try daemon.resolveCall("events.verify", params) } == "invalid_params")
        var complete = params
        complete["headers"] = [
            "svix-id": "a", "svix-timestamp": .string(String(Int(Date().timeIntervalSince1970))),
            "svix-signature": "v1,x",
        ]
        #expect(reason { try daemon.resolveCall("events.verify", complete) } == "no_credential")
        try daemon.upsert(provider: "resend", payload: ["apiKey": "re_only"])
        #expect(reason { try daemon.resolveCall("events.verify", complete) } == "no_credential")
        complete["grant"] = nil
        #expect(reason { try daemon.resolveCall("events.verify", complete) } == "grant_required")
        complete["grant"] = .string(try daemon.grant(providers: ["fal"]))
        #expect(reason { try daemon.resolveCall("events.verify", complete) } == "forbidden")
        complete["provider"] = "fal"
        #expect(reason { try daemon.resolveCall("events.verify", complete) } == "invalid_params")
        #expect(reason { try daemon.adminCall("events.verify", complete) } == "method_not_found")
    }
}
