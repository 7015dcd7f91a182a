import CredsCore
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
public import Prometheus

/// Serves the Prometheus text exposition on `GET /metrics` over plain HTTP (`[metrics] listen`).
///
/// Any local user can connect to it, so it is bounded like the two sockets: at most `maxConnections` open at
/// once (one more is closed at once, without an answer) and a connection that sends nothing for
/// `[limits] idleTimeoutSeconds` is closed. The limit is small and fixed: a scraper keeps one connection open,
/// and the descriptors this listener may take are descriptors the two sockets cannot use.
public struct MetricsListener: Sendable {
    public let registry: PrometheusCollectorRegistry

    /// Open connections allowed at once on the metrics listener.
    public static let maxConnections = 16

    public init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
    }

    func start(
        host: String,
        port: Int,
        group: any EventLoopGroup,
        engine: CredsEngine,
        logger: Logger,
        idleTimeout: @escaping @Sendable () -> TimeAmount
    ) async throws -> any Channel {
        let registry = self.registry
        let counter = ConnectionCounter()
        return try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                guard counter.tryAcquire(limit: Self.maxConnections) else {
                    logger.warning(
                        "metrics connection refused: listener full", metadata: ["limit": "\(Self.maxConnections)"]
                    )
                    return channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(CloseOnIdle(closeAtOnce: true))
                    }
                }
                channel.closeFuture.whenComplete { _ in counter.release() }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        IdleStateHandler(readTimeout: idleTimeout()), CloseOnIdle(),
                    ])
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(
                        MetricsHTTPHandler(registry: registry, engine: engine))
                }
            }
            .bind(host: host, port: port)
            .get()
    }
}

/// Closes the connection when the `IdleStateHandler` before it reports that nothing was read for a while, or as
/// soon as it is active when `closeAtOnce` (a connection over the limit).
final class CloseOnIdle: ChannelInboundHandler {
    typealias InboundIn = NIOAny

    private let closeAtOnce: Bool

    init(closeAtOnce: Bool = false) {
        self.closeAtOnce = closeAtOnce
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if closeAtOnce && context.channel.isActive { context.close(promise: nil) }
    }

    func channelActive(context: ChannelHandlerContext) {
        if closeAtOnce {
            context.close(promise: nil)
        } else {
            context.fireChannelActive()
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
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
                engine.statistics.refreshGauges(
                    storeBytes: Int64(engine.database.environment.usedBytes), cluster: engine.clusterStatus)
                body = registry.emitToBuffer()
            }
            let headers = HTTPHeaders([
                ("Content-Type", found ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain"),
                ("Content-Length", String(body.count)),
            ])
            context.write(
                wrapOutboundOut(
                    .head(HTTPResponseHead(version: head.version, status: found ? .ok : .notFound, headers: headers))),
                promise: nil)
            context.write(
                wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            self.head = nil
        }
    }
}
