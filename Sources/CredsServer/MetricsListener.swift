import CredsCore
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
public import Prometheus

/// Serves the Prometheus text exposition on `GET /metrics` over plain HTTP (`[metrics] listen`).
public struct MetricsListener: Sendable {
    public let registry: PrometheusCollectorRegistry

    public init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
    }

    func start(host: String, port: Int, group: any EventLoopGroup, engine: CredsEngine) async throws -> any Channel {
        let registry = self.registry
        return try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(MetricsHTTPHandler(registry: registry, engine: engine))
                }
            }
            .bind(host: host, port: port)
            .get()
    }
}

/// Answers `GET /metrics`; everything else is 404.
final class MetricsHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let registry: PrometheusCollectorRegistry
    private let engine: CredsEngine
    private var head: HTTPRequestHead?

    init(registry: PrometheusCollectorRegistry, engine: CredsEngine) {
        self.registry = registry
        self.engine = engine
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body: break
        case .end:
            guard let head else { return }
            let found = head.method == .GET && head.uri.split(separator: "?").first == "/metrics"
            var body: [UInt8] = Array("not found\n".utf8)
            if found {
                engine.statistics.refreshGauges(storeBytes: Int64(engine.database.environment.usedBytes))
                body = registry.emitToBuffer()
            }
            let headers = HTTPHeaders([
                ("Content-Type", found ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain"),
                ("Content-Length", String(body.count)),
            ])
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: found ? .ok : .notFound, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            self.head = nil
        }
    }
}
