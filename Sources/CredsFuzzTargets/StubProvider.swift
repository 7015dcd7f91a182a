import CredsProtocol
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// An HTTP server on 127.0.0.1 standing in for Google's token endpoint and GitHub's API in the `methods`
/// target, answering what the input chose (``ProviderReply``) at once.
///
/// A port nothing listens on is not a fast failure: AsyncHTTPClient retries a refused connect with backoff
/// until the call's deadline, two seconds per OAuth call. This answers in well under a millisecond, and lets the
/// input decide what a provider says (hostile `expires_in`, `expires_at`, permissions, installation pages), so
/// the engine's handling of replies is fuzzed through its real code path. Nothing leaves the host.
final class StubProvider: Sendable {
    private let current = CurrentReply()
    private let channel: any Channel
    let baseURL: String

    /// What the next requests are answered.
    var reply: ProviderReply {
        get { current.value.withLock { $0 } }
        set { current.value.withLock { $0 = newValue } }
    }

    init(group: any EventLoopGroup) throws {
        let current = self.current
        channel = try ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(StubProviderHandler(current: current))
                }
            }
            .bind(host: "127.0.0.1", port: 0).wait()
        baseURL = "http://127.0.0.1:\(channel.localAddress?.port ?? 1)"
    }
}

/// What the stub provider answers for the current input: a status and the values of the fields each endpoint's
/// reply holds. Token strings differ per endpoint so the oracle can tell which one leaked.
struct ProviderReply: Sendable {
    var status = 503
    var expiresIn: JSONValue?
    var expiresAt: JSONValue?
    var permissions: JSONValue?
    var installations: JSONValue?
    var totalCount: JSONValue?
    var error: JSONValue?
    var rotateRefreshToken = false
    /// A body sent as it is on every path, instead of the fields.
    var rawBody: [UInt8]?

    static let unavailable = ProviderReply()

    static let googleAccessToken = "ya29.stub-refreshed-access-token-6b1f0e"
    static let googleRefreshToken = "1//stub-rotated-refresh-token-9d2c4a"
    static let githubUserToken = "ghu_stubUserToken0123456789abcdefABCDEF"
    static let githubUserRefreshToken = "ghr_stubUserRefresh0123456789abcdefABCDEF"
    static let installationToken = "ghs_stubInstallationToken0123456789abcdef"

    /// The body for a request to `path`.
    func body(for path: String) -> [UInt8] {
        if let rawBody { return rawBody }
        var fields: [String: JSONValue] = [:]
        if path.hasPrefix("/token") {
            fields = [
                "access_token": .string(Self.googleAccessToken), "token_type": "Bearer",
                "scope": "https://www.googleapis.com/auth/drive.file",
            ]
            if rotateRefreshToken { fields["refresh_token"] = .string(Self.googleRefreshToken) }
            fields["expires_in"] = expiresIn
        } else if path.hasPrefix("/login/oauth/access_token") {
            fields = ["access_token": .string(Self.githubUserToken), "token_type": "bearer", "scope": ""]
            if rotateRefreshToken { fields["refresh_token"] = .string(Self.githubUserRefreshToken) }
            fields["expires_in"] = expiresIn
        } else if path.hasPrefix("/app/installations/") {
            fields = ["token": .string(Self.installationToken)]
            fields["expires_at"] = expiresAt
            fields["permissions"] = permissions
        } else if path.hasPrefix("/user/installations") {
            fields["installations"] = installations
            fields["total_count"] = totalCount
        }
        fields["error"] = error
        return JSONValue.object(fields).serialized()
    }
}

private final class CurrentReply: Sendable {
    let value = Mutex(ProviderReply.unavailable)
}

private final class StubProviderHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let current: CurrentReply
    private var path = ""

    init(current: CurrentReply) {
        self.current = current
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            path = head.uri
        case .body:
            break
        case .end:
            let reply = current.value.withLock { $0 }
            let body = reply.body(for: path)
            var headers = HTTPHeaders([("Content-Type", "application/json"), ("Content-Length", "\(body.count)")])
            if (300..<400).contains(reply.status) { headers.add(name: "Location", value: "/token?redirected=1") }
            let head = HTTPResponseHead(
                version: .http1_1, status: HTTPResponseStatus(statusCode: reply.status), headers: headers)
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: body)))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }
}
