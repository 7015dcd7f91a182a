import CredsCore
import CredsProtocol
import NIOCore

/// Streams events to one connection after its `watch` answer (SPEC 11), on the connection's event loop:
/// `{"jsonrpc":"2.0","method":"event","params":{…}}` for each event in scope, a `heartbeat` notification every
/// 30 s, and one `resync` notification before the connection is closed when it falls more than 10,000 events
/// behind (a peer that does not read is never buffered for). Writes stop while the connection is not writable:
/// other connections are never slowed by this one. A resolve-socket watch ends when its grant does.
final class EventWatcher {
    static let maxBehind: UInt64 = 10_000
    static let heartbeatEvery = TimeAmount.seconds(30)
    /// Events read and written per step before yielding the loop.
    static let batch = 256

    private let engine: CredsEngine
    private let feed: EventFeed
    private let context: ChannelHandlerContext
    private let scope: WatchScope
    private var cursor: UInt64
    private var heartbeat: RepeatedTask?
    private var delivering = false
    private(set) var closed = false

    init(
        engine: CredsEngine,
        feed: EventFeed,
        context: ChannelHandlerContext,
        subscription: WatchSubscription
    ) {
        self.engine = engine
        self.feed = feed
        self.context = context
        scope = subscription.scope
        let head = (try? engine.eventHead()) ?? 0
        // A `since` beyond the head (an outbox that was replaced) starts from now rather than waiting for it.
        cursor = min(subscription.since ?? head, head)
    }

    func start() {
        let loop = context.eventLoop
        // Held by the feed until `stop`; reached only on the connection's own loop.
        let bound = NIOLoopBound(self, eventLoop: loop)
        feed.add(ObjectIdentifier(self)) {
            loop.execute { bound.value.deliver() }
        }
        heartbeat = loop.scheduleRepeatedTask(initialDelay: Self.heartbeatEvery, delay: Self.heartbeatEvery) { _ in
            bound.value.beat()
        }
        deliver()
    }

    /// The connection closed (or is closing): no more deliveries.
    func stop() {
        guard !closed else { return }
        closed = true
        heartbeat?.cancel()
        heartbeat = nil
        feed.remove(ObjectIdentifier(self))
    }

    /// A heartbeat, unless the peer is not reading (nothing is buffered for it), or the grant no longer holds (the
    /// watch ends even when no event comes).
    private func beat() {
        guard !closed else { return }
        guard engine.watchAllowed(scope) else {
            close()
            return
        }
        guard context.channel.isWritable else { return }
        notify("heartbeat", params: nil)
    }

    /// Sends what is in scope after the cursor while the connection takes it.
    func deliver() {
        guard !closed, !delivering, context.channel.isActive else { return }
        delivering = true
        defer { delivering = false }
        guard engine.watchAllowed(scope) else {
            close()
            return
        }
        guard let head = try? engine.eventHead() else { return }
        if head > cursor, head - cursor > Self.maxBehind {
            notify("resync", params: nil)
            close()
            return
        }
        while context.channel.isWritable, cursor < head {
            guard let (events, through) = try? engine.events(after: cursor, limit: Self.batch, scope: scope) else {
                return
            }
            for event in events { write("event", params: event.json) }
            context.flush()
            guard through > cursor else { return }
            cursor = through
        }
    }

    private func notify(_ method: String, params: JSONValue?) {
        guard !closed, context.channel.isActive else { return }
        write(method, params: params)
        context.flush()
    }

    private func write(_ method: String, params: JSONValue?) {
        let frame = RPCResponse.notification(method: method, params: params, allocator: context.channel.allocator)
        context.write(NIOAny(frame), promise: nil)
    }

    private func close() {
        stop()
        context.close(promise: nil)
    }
}
