import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// An HTTP server on 127.0.0.1 standing in for a provider's API (or a webhook receiver): every request is recorded
/// and answered by `respond`, after its delay.
final class FakeHTTPServer: Sendable {
    struct Request: Sendable {
        let method: String
        let uri: String
        let headers: [(String, String)]
        let body: [UInt8]

        func header(_ name: String) -> String? {
            headers.first { $0.0.lowercased() == name.lowercased() }?.1
        }
    }

    struct Response: Sendable {
        var status: Int
        var body: String
        var delay: Double = 0
    }

    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private let channel: any Channel
    private let recorded = Mutex<[Request]>([])
    private let responder: Mutex<@Sendable (Request) -> Response>
    let port: Int

    init(_ respond: @escaping @Sendable (Request) -> Response = { _ in Response(status: 200, body: "{}") }) throws {
        responder = Mutex(respond)
        let sink = FakeHTTPSink()
        channel = try ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(FakeHTTPHandler(sink: sink))
                }
            }
            .bind(host: "127.0.0.1", port: 0).wait()
        port = channel.localAddress!.port!
        sink.server.withLock { $0 = self }
    }

    deinit {
        try? channel.close().wait()
        try? group.syncShutdownGracefully()
    }

    var baseURL: String { "http://127.0.0.1:\(port)" }

    /// Answers every request from now on with `respond`.
    func respond(_ respond: @escaping @Sendable (Request) -> Response) {
        responder.withLock { $0 = respond }
    }

    var requests: [Request] { recorded.withLock { $0 } }

    fileprivate func handle(_ request: Request) -> Response {
        recorded.withLock { $0.append(request) }
        return responder.withLock { $0 }(request)
    }
}

private final class FakeHTTPSink: Sendable {
    let server = Mutex<FakeHTTPServer?>(nil)
}

private final class FakeHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let sink: FakeHTTPSink
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []

    init(sink: FakeHTTPSink) {
        self.sink = sink
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body = []
        case .body(let buffer):
            body += buffer.readableBytesView
        case .end:
            guard let head, let server = sink.server.withLock({ $0 }) else { return }
            let request = FakeHTTPServer.Request(
                method: head.method.rawValue, uri: head.uri, headers: head.headers.map { ($0.name, $0.value) },
                body: body)
            let response = server.handle(request)
            let bytes = Array(response.body.utf8)
            let respond = {
                let headers = HTTPHeaders([
                    ("Content-Type", "application/json"), ("Content-Length", String(bytes.count)),
                    ("Connection", "close"),
                ])
                context.write(
                    self.wrapOutboundOut(
                        .head(
                            HTTPResponseHead(
                                version: head.version, status: HTTPResponseStatus(statusCode: response.status),
                                headers: headers))), promise: nil)
                context.write(
                    self.wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: bytes)))),
                    promise: nil)
                context.writeAndFlush(self.wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
                    context.close(promise: nil)
                }
            }
            if response.delay > 0 {
                context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(Int64(response.delay * 1000))) {
                    respond()
                }
            } else {
                respond()
            }
        }
    }
}
