import CredsCore
import CredsCrypto
import CredsProtocol

/// Turns input bytes into method calls: which socket and method, and params built from a value for each of
/// the method's param names: left out, well-formed-looking (the seeded ids, grants and states, the catalog's
/// providers, plausible numbers and times), hostile (extreme integers, long and look-alike strings, nested
/// values, the wrong type), or taken from the input as it is.
struct MethodCallGenerator {
    /// The methods of SPEC section 6 (and 11, 12) with their params, in a fixed order: a saved input keeps
    /// naming the same method when methods are added. A method no table has is skipped; one a table has that is
    /// not listed here is appended, with param names drawn from every list.
    static let methods: [(socket: SocketKind, name: String, params: [String])] = [
        (.resolve, "resolve", ["workspaceId", "provider", "grant", "connectionId", "requiredScopes"]),
        (.resolve, "events.verify", ["workspaceId", "provider", "grant", "connectionId", "headers", "body"]),
        (.resolve, "health", []),
        (.resolve, "providers.list", []),
        (
            .admin, "connections.upsert",
            ["workspaceId", "provider", "displayName", "credentialPayload", "connectionId", "actor"]
        ),
        (.admin, "connections.get", ["connectionId", "actor"]),
        (.admin, "connections.list", ["workspaceId", "provider", "actor"]),
        (.admin, "connections.revoke", ["connectionId", "actor"]),
        (.admin, "connections.delete", ["connectionId", "actor"]),
        (.admin, "policy.set", ["workspaceId", "provider", "mode", "actor", "fallbackOn"]),
        (.admin, "policy.get", ["workspaceId", "provider", "actor"]),
        (.admin, "members.set", ["workspaceId", "principal", "role"]),
        (.admin, "members.list", ["workspaceId"]),
        (.admin, "grants.issue", ["workspaceId", "providers", "ttlSeconds"]),
        (.admin, "grants.revoke", ["grant"]),
        (
            .admin, "oauth.begin",
            ["workspaceId", "provider", "displayName", "redirectUri", "scopes", "connectionId", "actor"]
        ),
        (.admin, "oauth.complete", ["state", "code", "installationId", "error"]),
        (.admin, "explain", ["workspaceId", "provider", "connectionId", "actor"]),
        (.admin, "keys.status", []),
        (.admin, "keys.rotate", []),
        (.admin, "audit.list", ["since", "limit", "workspaceId", "hostId"]),
        (.admin, "audit.verify", []),
        (.admin, "stats", []),
        (.admin, "health", []),
        (.admin, "providers.list", []),
        (
            .resolve, "resolve.report",
            [
                "workspaceId", "provider", "grant", "connectionId", "source", "builtinKeyId", "outcome", "httpStatus",
                "retryAfterSeconds", "units",
            ]
        ),
        (.admin, "connections.test", ["connectionId", "actor"]),
        (.admin, "events.list", ["since", "limit", "workspaceId"]),
        (
            .admin, "budgets.set",
            ["workspaceId", "provider", "period", "maxResolves", "maxUnits", "perMinute", "actor"]
        ),
        (.admin, "budgets.get", ["workspaceId", "provider", "actor"]),
        (.admin, "usage.get", ["workspaceId", "provider", "from", "to", "actor"]),
    ]

    /// Streaming methods answer on a connection the in-process call does not have; left to the socket tests.
    static let skipped: Set<String> = ["watch"]

    static let allParamNames = Array(Set(methods.flatMap(\.params))).sorted()

    var input: FuzzInput
    let seeds: MethodSeeds
    /// Ids, states and grants earlier calls of this input answered, for later calls to use.
    var connectionIds: [String] = []
    var states: [String] = []
    var grants: [String] = []
    /// Current time in seconds, for webhook timestamps.
    let now: Int64

    init(_ bytes: [UInt8], seeds: MethodSeeds) {
        input = FuzzInput(bytes)
        self.seeds = seeds
        now = Timestamp.now().seconds
    }

    /// Remembers what an answer holds that a later call can name.
    mutating func learn(from answer: JSONValue) {
        for id in [answer["connectionId"], answer["connection"]?["id"]] {
            if let id = id?.stringValue { connectionIds.append(id) }
        }
        if let state = answer["state"]?.stringValue { states.append(state) }
        if let grant = answer["grant"]?.stringValue { grants.append(grant) }
    }

    /// What the stub provider answers during this input: a status (mostly "unavailable"), then for a reply
    /// the value of each field an endpoint's answer holds, or a body taken from the input.
    mutating func providerReply() -> ProviderReply {
        var reply = ProviderReply()
        reply.status = input.pick([503, 200, 200, 201, 400, 404, 500, 307, 200])
        guard reply.status != 503 else { return reply }
        reply.expiresIn = input.pick(Self.replyExpiresIn)
        let expiresAt = input.choose(Self.replyExpiresAt.count + 1)
        reply.expiresAt =
            expiresAt == 1
            ? .string((Timestamp.now() + .seconds(3_600)).rfc3339) : Self.replyExpiresAt[max(0, expiresAt - 1)]
        reply.permissions = input.pick(Self.replyPermissions)
        reply.installations = input.pick(Self.replyInstallations)
        reply.totalCount = input.pick([nil, 1, 0, .int(Int64.max), .int(Int64.min), "1", 250])
        reply.error = input.pick([nil, nil, "invalid_grant", "access_denied", 5])
        let flags = input.byte()
        reply.rotateRefreshToken = flags & 1 != 0
        if flags >= 240 { reply.rawBody = Array(input.text().utf8) }
        return reply
    }

    private static let replyExpiresIn: [JSONValue?] = [
        nil, 3599, 28_800, 0, -1, .int(Int64.max), .int(Int64.min), .int(Int64.max / 1_000_000), "3600", .double(1e300),
        .double(3599.5), .null, 31_622_401,
    ]
    /// Index 1 of the choice is an hour from now, made when chosen.
    private static let replyExpiresAt: [JSONValue?] = [
        nil, "1970-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "+292278994-08-17T07:12:55Z", "2030-13-45T99:99:99Z",
        12_345,
        .null,
    ]
    private static let replyPermissions: [JSONValue?] = [
        nil, ["contents": "read", "metadata": "read"], ["contents": "write"], ["contents": 1, "x": .null], [:], "all",
        .object(Dictionary(uniqueKeysWithValues: (0..<300).map { ("p\($0)", JSONValue.string("read")) })),
    ]
    private static let replyInstallations: [JSONValue?] = [
        nil, [["id": 4242, "app_id": 424_242]], [], [["id": "4242"]], [["id": 4242, "app_id": 1]],
        .array((1...100).map { ["id": .int($0), "app_id": 424_242] }), [["id": .int(Int64.max)]], "x",
    ]

    /// The params of one call of a method whose param names are `names`.
    mutating func params(for names: [String]) -> [String: JSONValue] {
        var params: [String: JSONValue] = [:]
        var provider = "resend"
        for name in names {
            let choice = input.byte()
            let value: JSONValue?
            switch choice {
            case ..<24: value = nil
            case ..<200: value = wellFormed(name, provider: provider)
            case ..<244: value = hostile()
            default: value = raw()
            }
            if let value {
                params[name] = value
                if name == "provider", let text = value.stringValue { provider = text }
            }
        }
        if input.byte() >= 248 {
            params[input.pick(Self.allParamNames + ["", "workspaceID", "__proto__", "apiKey"])] = hostile()
        }
        return params
    }

    // MARK: well-formed values

    private mutating func wellFormed(_ name: String, provider: String) -> JSONValue {
        switch name {
        case "workspaceId": return .string(input.pick(Self.workspaceIds))
        case "provider": return .string(input.pick(Self.providerIds))
        case "providers", "fallbackOn":
            let pool =
                name == "providers"
                ? Self.providerIds : ["unauthorized", "rate_limited", "quota_exceeded", "upstream_error", "ok"]
            return .array((0..<input.choose(4)).map { _ in .string(input.pick(pool)) })
        case "grant":
            return .string(
                input.pick(
                    seeds.grants + grants + ["cg_unknown", seeds.grantAll + "x", String(seeds.grantAll.dropLast())]))
        case "connectionId":
            return .string(
                input.pick(seededConnectionIds + connectionIds + ["conn_missing", "conn_" + MethodSeeds.workspace]))
        case "actor", "principal": return .string(input.pick(Self.principals))
        case "displayName":
            return .string(input.pick(Self.displayNames))
        case "credentialPayload": return payload(for: provider)
        case "requiredScopes", "scopes":
            return .array((0..<input.choose(4)).map { _ in .string(input.pick(Self.scopes)) })
        case "headers": return svixHeaders()
        case "body": return .string(input.pick(Self.bodies))
        case "mode": return .string(input.pick(["auto", "built_in", "byo", "BYO", "", "auto "]))
        case "role": return .string(input.pick(["read", "write", "none", "admin", "Write", ""]))
        case "source": return .string(input.pick(["byo", "built_in", "other"]))
        case "outcome":
            return .string(
                input.pick(["ok", "unauthorized", "rate_limited", "quota_exceeded", "upstream_error", "bad"]))
        case "period": return .string(input.pick(["day", "month", "year"]))
        case "redirectUri":
            return .string(
                input.pick([
                    MethodSeeds.redirectUri, "http://127.0.0.1/cb", "javascript:alert(1)", "https://", "ftp://x/",
                    "https://a.example/cb?x=1&state=forged#frag", "https://\u{212A}.example/", "",
                ]))
        case "state": return .string(input.pick([seeds.googleState, seeds.githubState] + states + ["st_unknown", ""]))
        case "code": return .string(input.pick(Self.codes))
        case "installationId": return input.pick(Self.installationIds)
        case "error": return .string(input.pick(Self.providerErrors))
        case "from", "to": return .string(input.pick(Self.times))
        case "hostId", "builtinKeyId":
            return .string(input.pick(["exec-17", "bk_0123456789abcdef", "", "host with space"]))
        default: return input.pick(Self.integers)
        }
    }

    private static let displayNames: [String] = [
        "Fuzz", "", String(repeating: "x", count: 200), String(repeating: "x", count: 201),
        String(repeating: "é", count: 200),
        String(repeating: "👨‍👩‍👧", count: 200), "tab\there", "nul\u{0}", "\u{202E}evil",
    ]

    private static let scopes: [String] = [
        "https://www.googleapis.com/auth/drive.file", "contents:read", "contents:write", "", "a b", "x,y",
        String(repeating: "s", count: 5000),
    ]

    private static let codes = ["code-123", "", String(repeating: "c", count: 10_000), "a&b=c"]

    private static let providerErrors = ["access_denied", "", "\u{0}\u{1b}[31m", String(repeating: "e", count: 10_000)]

    private static let workspaceIds: [String] = [
        MethodSeeds.workspace, MethodSeeds.otherWorkspace, "ws_unknown", "ws_\u{212A}x9", "WS_KX9", "ws_Kx9 ",
        "ws_Kx9\u{0}", "ws_K\u{0301}x9", String(repeating: "w", count: 128), String(repeating: "w", count: 129),
        String(repeating: "w", count: 600), "ws:Kx9@a+b-c.d", "",
    ]

    private static let providerIds: [String] = [
        "resend", "fal", "gemini", "vercel-ai-gateway", "elevenlabs", "github", "google-workspace", "telegram",
        "openclaw", "unknown-provider", "RESEND", "resend\u{200B}", "fal ", "ＦＡＬ",
    ]

    private static let principals: [String] = [
        MethodSeeds.writer, MethodSeeds.reader, MethodSeeds.otherWriter, "nobody", "ALICE", "al\u{0131}ce",
        "alice\u{0}",
    ]

    private var seededConnectionIds: [String] {
        [
            seeds.resendId, seeds.falId, seeds.googleId, seeds.githubId, seeds.revokedId, seeds.otherGeminiId,
            seeds.pendingGoogleId,
        ]
    }

    private static let installationIds: [JSONValue] = [
        4242, 1, 0, -1, .int(Int64.max), .int(Int64.min), "4242", "-1", "9223372036854775807", "9223372036854775808",
        "12 3", "\u{0663}", .double(1e20), .double(42.5), "4242/../../app", "",
    ]

    private static let integers: [JSONValue] = [
        0, 1, -1, 60, 100, 900, 1000, 1001, 86_400, 86_401, .int(Int64.max), .int(Int64.min),
        .int(Int64.max / 1_000_000 + 1),
        .int(Int64.min / 1_000_000 - 1), .int(Int64(Int32.max)), .int(Int64(UInt32.max)), .double(9.0e15),
        .double(1e300),
        .double(-1e300), .double(0.5), .double(-0.0), "900", .bool(true),
    ]

    private static let times: [String] = [
        "2026-01-01T00:00:00Z", "1970-01-01T00:00:00Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z",
        "2026-02-30T00:00:00Z", "2026-01-01", "-1", "+292278994-08-17T07:12:55Z", "2026-01-01T00:00:00.999999999999Z",
    ]

    private static let bodies: [String] = [
        "{}", #"{"type":"email.sent","data":{"email_id":"4ef9"}}"#, "", "not json", String(repeating: "[", count: 5000),
        String(repeating: "b", count: 70_000), "\u{0}", #"{"a":1e999999}"#,
    ]

    /// A credential payload for `provider`: a valid one, one with a field changed, or one for another provider.
    private mutating func payload(for provider: String) -> JSONValue {
        var payload: [String: JSONValue]
        switch input.choose(4) {
        case 0 where provider == "google-workspace":
            payload = [
                "accessToken": "ya29.fuzz", "refreshToken": "1//fuzz", "expiresAt": .string(input.pick(Self.times)),
                "scopes": ["https://www.googleapis.com/auth/drive.file"],
            ]
        case 0, 1: payload = ["apiKey": input.pick(Self.apiKeys)]
        case 2: payload = ["apiKey": input.pick(Self.apiKeys), "webhookSecret": input.pick(Self.webhookSecrets)]
        default: payload = ["installationId": input.pick(Self.installationIds), "accessToken": hostile()]
        }
        if input.byte() >= 224 { payload[input.pick(["extra", "apiKey", "expiresAt", "scopes"])] = hostile() }
        return .object(payload)
    }

    private static let webhookSecrets: [JSONValue] = [
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_", "whsec_!!!!", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_A",
        7,
    ]

    private static let apiKeys: [JSONValue] = [
        "re_0123456789abcdef", "0123abcd-0123-4567-89ab-0123456789ab:0123456789abcdef0123456789abcdef",
        "AIzaSyA0123456789abcdefghijklmnopqrstu", "sk_0123456789", "{webhookSecret}", "{apiKey}", "",
        .string(String(repeating: "k", count: 4097)), "key with space", 12345, .null,
    ]

    // MARK: webhook headers

    private static let messageIds = [
        "msg_fuzz_1", "msg_fuzz_2", "", String(repeating: "m", count: 1000), "msg.with.dots",
    ]
    private static let manySignatures = String(repeating: "v1,AAAA ", count: 2000)

    /// Svix headers (names in any case) with a timestamp from `now` to the ends of Int64 and a signature that
    /// is right for the seeded secret, wrong, or of another scheme.
    private mutating func svixHeaders() -> JSONValue {
        let id = input.pick(Self.messageIds)
        let timestamps: [String] = [
            String(now), String(now - 300), String(now + 300), String(now - 301), String(now + 301), "0", "-1",
            String(Int64.min), String(Int64.max), String(Int64.min + 1), String(now * 1000), "-0", "+\(now)", " \(now)",
            "\(now).0", "1e9", "99999999999999999999", "", "\u{2212}5", "0x10", String(Int64.min / 1_000_000),
        ]
        let timestamp = input.pick(timestamps)
        let body = input.pick(Self.bodies)
        let key = SecretBytes(copying: seeds.webhookKey, storage: .transient)
        let valid = HMAC.sha256(key: key, message: Array("\(id).\(timestamp).\(body)".utf8)).withUnsafeBytes {
            Base64.encode($0)
        }
        let signature = input.pick([
            "v1,\(valid)", "v1,bogus v1,\(valid)", "v1,AAAA", "v1,", "v2,\(valid)", "v1 \(valid)", "",
            Self.manySignatures,
            "v1,\(valid.dropLast(2))",
        ])
        var headers: [String: JSONValue] = [:]
        let names = input.pick([
            ("svix-id", "svix-timestamp", "svix-signature"), ("Svix-Id", "SVIX-TIMESTAMP", "Svix-Signature"),
            ("webhook-id", "webhook-timestamp", "webhook-signature"),
        ])
        let shape = input.byte()
        if shape & 1 == 0 { headers[names.0] = .string(id) }
        if shape & 2 == 0 { headers[names.1] = .string(timestamp) }
        if shape & 4 == 0 { headers[names.2] = .string(signature) }
        if shape & 8 != 0 { headers["svix-timestamp"] = .string(input.text()) }
        if shape & 16 != 0 { headers["svix-id"] = hostile() }
        if shape & 32 != 0 { headers[input.text(maxBytes: 40)] = .string(input.text()) }
        return .object(headers)
    }

    // MARK: hostile and raw values

    /// A value of any type meant to break a parser: extremes, the wrong type, look-alikes, size, depth.
    private mutating func hostile() -> JSONValue {
        let choice = input.choose(24)
        switch choice {
        case 0: return .null
        case 1: return .bool(false)
        case 2: return .int(Int64.min)
        case 3: return .int(Int64.max)
        case 4: return .double(-1.7976931348623157e308)
        case 5: return .double(5e-324)
        case 6: return .string(String(Int64.min))
        case 7: return .string(String(Int64.max))
        case 8: return .string("18446744073709551616")
        case 9: return .string(String(repeating: "a", count: 70_000))
        case 10: return .string("\u{212A}")
        case 11: return .string("ws_Kx9\u{0301}")
        case 12: return .string("\u{FEFF}" + MethodSeeds.workspace)
        case 13: return .string("../../../etc/passwd")
        case 14: return .string("{webhookSecret}{apiKey}")
        case 15: return .string("\u{0}\u{7}\u{1b}[2J\r\n")
        case 16: return .array([])
        case 17: return .object([:])
        case 18: return .array((0..<input.choose(64)).map { _ in .int(input.int64()) })
        case 19:
            var value = JSONValue.string("deep")
            for _ in 0..<(1 + input.choose(60)) {
                value = input.byte() & 1 == 0 ? .array([value]) : .object(["k": value])
            }
            return value
        case 20: return .object(["$ref": "#", "__proto__": ["admin": true]])
        case 21: return .string(String(repeating: "\u{10FFFF}", count: 1000))
        case 22: return .double(-0.0)
        default: return .string(String(repeating: "ﬀ", count: 129))
        }
    }

    /// A value made of input bytes: text, an integer, or JSON text parsed (kept as text when it does not parse).
    private mutating func raw() -> JSONValue {
        switch input.choose(3) {
        case 0: return .string(input.text())
        case 1: return .int(input.int64())
        default:
            let text = input.text()
            return (try? JSONValue.parse(Array(text.utf8))) ?? .string(text)
        }
    }
}
