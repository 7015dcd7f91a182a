import Crypto
import CredsCrypto
import CredsOAuth
import CredsProtocol
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
import _CryptoExtras

/// A real HTTP server on 127.0.0.1 standing in for Google's token endpoint and GitHub's API.
/// It checks what a real provider checks (client credentials, PKCE, the app JWT) and can be told to fail.
final class FakeOAuthProvider: Sendable {
    enum Behaviour: Sendable, Equatable {
        case normal
        case invalidGrant
        case serverError
        case slow(seconds: Int)
        case uninstalled
        /// Token and API calls answer 307 to `/stolen` on this server.
        case redirect
    }

    struct State: Sendable {
        var behaviour: Behaviour = .normal
        /// code → PKCE challenge, for the authorization-code exchange.
        var codes: [String: String] = [:]
        /// Refresh tokens the provider still accepts.
        var refreshTokens: Set<String> = []
        var rotateRefreshTokens = false
        var expiresIn = 3600
        var grantedScopes = "https://www.googleapis.com/auth/drive.file https://www.googleapis.com/auth/spreadsheets"
        var refreshCalls = 0
        var exchangeCalls = 0
        var mintCalls = 0
        var issued = 0
        var problems: [String] = []
        var responseDelay: Double = 0
        /// Installations of the app the GitHub user who completes an installation can access, in list order.
        var userInstallations: [Int64] = [31337, 777, 5]
        /// Pages of `/user/installations` asked for, in order.
        var installationPagesServed: [Int] = []
        /// GitHub user tokens issued by the code exchange.
        var userTokens: Set<String> = []
        /// Requests that followed a redirect to `/stolen` (a leak of whatever they carried).
        var stolenRequests = 0
        /// Installation ids tokens were minted for, in order.
        var mintedFor: [String] = []
        /// Extra seconds before answering code exchanges (Google and GitHub) and refreshes.
        var exchangeDelay: Double = 0
        var refreshDelay: Double = 0
        /// When set, `/user/installations` answers this status (403: GitHub's rate limit).
        var installationsStatus: Int?
    }

    static let clientId = "test-client.apps.example"
    static let clientSecret = "google-client-secret-4c1f"
    static let githubClientSecret = "github-client-secret-77ab"
    static let appId = "424242"

    let state = Mutex(State())
    let appKey: _RSA.Signing.PrivateKey
    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel
    let port: Int
    /// Holds the client secret and app key files the daemon reads, for as long as the provider lives.
    let secretFiles = TemporaryDirectory()

    init() throws {
        appKey = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let handlerState = HandlerContext()
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(FakeProviderHandler(context: handlerState))
                }
            }
        channel = try bootstrap.bind(host: "127.0.0.1", port: 0).wait()
        port = channel.localAddress!.port!
        handlerState.provider.withLock { $0 = self }
    }

    deinit {
        try? channel.close().wait()
        try? group.syncShutdownGracefully()
    }

    var baseURL: String { "http://127.0.0.1:\(port)" }

    func configure(_ change: (inout State) -> Void) {
        state.withLock { (locked: inout State) in
            var copy = locked
            change(&copy)
            locked = copy
        }
    }

    func read<Value: Sendable>(_ body: (State) -> Value) -> Value {
        let snapshot = state.withLock { $0 }
        return body(snapshot)
    }

    /// The `[oauth.*]` sections pointing at this server, with secret files written into `directory`.
    func configSections() -> String {
        let directory = secretFiles
        let googleSecret = directory.write("google-client-secret", Self.clientSecret + "\n")
        let githubSecret = directory.write("github-client-secret", Self.githubClientSecret + "\n")
        let pem = directory.write("github-app.pem", appKey.pemRepresentation)
        return """
            [oauth.google-workspace]
            clientId = "\(Self.clientId)"
            clientSecretFile = "\(googleSecret)"
            authorizeUrl = "\(baseURL)/o/oauth2/v2/auth"
            tokenUrl = "\(baseURL)/token"

            [oauth.github]
            appId = "\(Self.appId)"
            appSlug = "builderstudio-test"
            clientId = "Iv1.testclient"
            clientSecretFile = "\(githubSecret)"
            privateKeyFile = "\(pem)"
            installUrl = "\(baseURL)/apps/builderstudio-test/installations/new"
            tokenUrl = "\(baseURL)/login/oauth/access_token"
            apiBaseUrl = "\(baseURL)/api"

            """
    }

    /// Answers one request: (status, JSON body, delay in seconds).
    func answer(
        method: String, path: String, query: [String: String] = [:], headers: HTTPHeaders, body: [UInt8]
    ) -> (Int, JSONValue, Double) {
        let form = Self.parseForm(String(decoding: body, as: UTF8.self))
        return state.withLock { state -> (Int, JSONValue, Double) in
            var delay = state.responseDelay
            if case .slow(let seconds) = state.behaviour { delay = Double(seconds) }
            func problem(_ text: String) -> (Int, JSONValue, Double) {
                state.problems.append(text)
                return (400, ["error": "invalid_request", "error_description": .string(text)], delay)
            }
            if path == "/stolen" {
                state.stolenRequests += 1
                return (200, ["access_token": "stolen", "expires_in": 3600], delay)
            }
            if state.behaviour == .redirect {
                return (307, ["location": "/stolen"], delay)
            }
            switch (method, path) {
            case ("GET", "/api/user/installations"):
                if let status = state.installationsStatus {
                    return (status, ["message": "API rate limit exceeded"], delay)
                }
                guard let token = headers["Authorization"].first, token.hasPrefix("Bearer "),
                    state.userTokens.contains(String(token.dropFirst(7)))
                else { return (401, ["message": "Bad credentials"], delay) }
                let perPage = max(1, min(100, Int(query["per_page"] ?? "30") ?? 30))
                let page = max(1, Int(query["page"] ?? "1") ?? 1)
                state.installationPagesServed.append(page)
                let start = min(state.userInstallations.count, (page - 1) * perPage)
                let slice = state.userInstallations[start..<min(state.userInstallations.count, start + perPage)]
                return (
                    200,
                    [
                        "total_count": .int(Int64(state.userInstallations.count)),
                        "installations": .array(
                            slice.map {
                                ["id": .int($0), "app_id": .int(Int64(Self.appId)!), "account": ["login": "octo"]]
                            }),
                    ], delay
                )
            case ("POST", "/token"):
                guard form["client_id"] == Self.clientId, form["client_secret"] == Self.clientSecret else {
                    return problem("bad client credentials")
                }
                if form["grant_type"] == "authorization_code" {
                    state.exchangeCalls += 1
                    delay += state.exchangeDelay
                    guard let code = form["code"], let challenge = state.codes.removeValue(forKey: code) else {
                        return (400, ["error": "invalid_grant"], delay)
                    }
                    guard let verifier = form["code_verifier"], Self.s256(verifier) == challenge else {
                        return problem("PKCE verifier does not match the challenge")
                    }
                    guard form["redirect_uri"] == "https://app.example/oauth/callback" else {
                        return problem("redirect_uri")
                    }
                    return (200, Self.issue(&state, refresh: true), delay)
                }
                if form["grant_type"] == "refresh_token" {
                    state.refreshCalls += 1
                    delay += state.refreshDelay
                    switch state.behaviour {
                    case .invalidGrant:
                        return (
                            400, ["error": "invalid_grant", "error_description": "Token has been expired or revoked."],
                            delay
                        )
                    case .serverError: return (500, ["error": "backend_error"], delay)
                    default: break
                    }
                    guard let token = form["refresh_token"], state.refreshTokens.contains(token) else {
                        return (400, ["error": "invalid_grant"], delay)
                    }
                    if state.rotateRefreshTokens { state.refreshTokens.remove(token) }
                    return (200, Self.issue(&state, refresh: state.rotateRefreshTokens), delay)
                }
                return problem("grant_type")
            case ("POST", "/login/oauth/access_token"):
                guard form["client_id"] == "Iv1.testclient", form["client_secret"] == Self.githubClientSecret,
                    form["code"] == "gh-code"
                else { return problem("github code exchange") }
                state.issued += 1
                state.exchangeCalls += 1
                delay += state.exchangeDelay
                state.userTokens.insert("ghu_user_\(state.issued)")
                return (
                    200,
                    [
                        "access_token": .string("ghu_user_\(state.issued)"),
                        "refresh_token": .string("ghr_\(state.issued)"),
                        "expires_in": 28800, "token_type": "bearer",
                    ], delay
                )
            default:
                guard method == "POST", path.hasPrefix("/api/app/installations/"), path.hasSuffix("/access_tokens")
                else {
                    return (404, ["message": "Not Found"], delay)
                }
                state.mintCalls += 1
                if let problem = self.checkJWT(headers["Authorization"].first) { state.problems.append(problem) }
                switch state.behaviour {
                case .uninstalled: return (404, ["message": "Not Found"], delay)
                case .serverError: return (502, ["message": "Bad Gateway"], delay)
                default: break
                }
                state.issued += 1
                let installation = path.dropFirst("/api/app/installations/".count).dropLast("/access_tokens".count)
                state.mintedFor.append(String(installation))
                let expires = Date().addingTimeInterval(3600)
                return (
                    201,
                    [
                        "token": .string(
                            "ghs_installation_\(state.issued)_i\(installation)_\(String(repeating: "x", count: state.issued * 7))"
                        ),
                        "expires_at": .string(ISO8601DateFormatter().string(from: expires)),
                        "permissions": ["contents": "write", "pull_requests": "write", "metadata": "read"],
                    ], delay
                )
            }
        }
    }

    private static func issue(_ state: inout State, refresh: Bool) -> JSONValue {
        state.issued += 1
        var body: [String: JSONValue] = [
            "access_token": .string("ya29.access-\(state.issued)"), "expires_in": .int(Int64(state.expiresIn)),
            "scope": .string(state.grantedScopes), "token_type": "Bearer",
        ]
        if refresh {
            let token = "1//refresh-\(state.issued)"
            state.refreshTokens.insert(token)
            body["refresh_token"] = .string(token)
        }
        return .object(body)
    }

    /// Checks the GitHub App JWT: RS256 signature by the app key, `iat` 60 s back, `exp` at most 10 minutes ahead.
    private func checkJWT(_ authorization: String?) -> String? {
        guard let authorization, authorization.hasPrefix("Bearer ") else { return "no bearer JWT" }
        let parts = authorization.dropFirst(7).split(separator: ".").map(String.init)
        guard parts.count == 3, let header = Base64.decodeURLSafe(parts[0]),
            let claims = Base64.decodeURLSafe(parts[1]),
            let signature = Base64.decodeURLSafe(parts[2])
        else { return "malformed JWT" }
        guard (try? JSONValue.parse(header))?["alg"] == "RS256" else { return "alg is not RS256" }
        let valid = appKey.publicKey.isValidSignature(
            _RSA.Signing.RSASignature(rawRepresentation: signature),
            for: SHA256.hash(data: Array((parts[0] + "." + parts[1]).utf8)), padding: .insecurePKCS1v1_5
        )
        guard valid else { return "JWT signature invalid" }
        guard let json = try? JSONValue.parse(claims), let iat = json["iat"]?.intValue, let exp = json["exp"]?.intValue
        else {
            return "JWT claims missing"
        }
        let now = Int64(Date().timeIntervalSince1970)
        guard json["iss"] == .int(Int64(Self.appId)!) || json["iss"] == .string(Self.appId) else { return "iss" }
        guard abs(now - 60 - iat) <= 5 else { return "iat is not 60 s in the past" }
        guard exp > now, exp - now <= 600 else { return "exp more than 10 minutes ahead" }
        return nil
    }

    /// RFC 7636's S256 challenge computed independently of credsd (swift-crypto and Foundation, not libsodium).
    static func s256(_ verifier: String) -> String {
        Data(SHA256.hash(data: Array(verifier.utf8))).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func parseForm(_ text: String) -> [String: String] {
        var form: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { continue }
            form[parts[0].removingPercentEncoding ?? parts[0]] =
                parts[1].replacingOccurrences(of: "+", with: " ").removingPercentEncoding
        }
        return form
    }
}

/// Lets the handler find its provider once both exist.
final class HandlerContext: Sendable {
    let provider = Mutex<FakeOAuthProvider?>(nil)
}

/// Collects one HTTP request and answers it after the provider's delay.
final class FakeProviderHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let context: HandlerContext
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []

    init(context: HandlerContext) {
        self.context = context
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body = []
        case .body(let buffer):
            body += buffer.readableBytesView
        case .end:
            guard let head, let provider = self.context.provider.withLock({ $0 }) else { return }
            let parts = head.uri.split(separator: "?", maxSplits: 1).map(String.init)
            let path = parts.first ?? ""
            let query = parts.count > 1 ? FakeOAuthProvider.parseForm(parts[1]) : [:]
            let (status, json, delay) = provider.answer(
                method: head.method.rawValue, path: path, query: query, headers: head.headers, body: body
            )
            let bytes = json.serialized()
            let respond = {
                var headers = HTTPHeaders([
                    ("Content-Type", "application/json"), ("Content-Length", String(bytes.count)),
                ])
                if let location = json["location"]?.stringValue {
                    headers.add(name: "Location", value: "http://127.0.0.1:\(provider.port)\(location)")
                }
                headers.add(name: "Connection", value: "close")
                context.write(
                    self.wrapOutboundOut(
                        .head(
                            HTTPResponseHead(
                                version: head.version, status: HTTPResponseStatus(statusCode: status), headers: headers)
                        )), promise: nil)
                context.write(
                    self.wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: bytes)))),
                    promise: nil)
                context.writeAndFlush(self.wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
                    context.close(promise: nil)
                }
            }
            if delay > 0 {
                context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(Int64(delay * 1000))) { respond() }
            } else {
                respond()
            }
        }
    }
}
