import CredsCore
import CredsProtocol
import Logging
import NIOCore

/// Reads frames, dispatches each request and writes each answer as it completes (possibly out of order).
///
/// Every failure becomes an error answer on this connection only; the connection stays open except after
/// `frame_too_large`, on idle timeout and at shutdown.
final class RPCHandler: ChannelInboundHandler {
    typealias InboundIn = FrameEvent
    typealias OutboundOut = ByteBuffer

    private let methods: MethodRegistry
    private let socket: SocketKind
    private let maxFrameBytes: Int
    private let peer: PeerCredentials?
    private let inFlight: InFlightTracker
    private let logger: Logger
    private var pending = 0
    /// Answers ready but held until the audit backlog drains: while any are, this peer's requests are not read,
    /// so a client that sends without reading cannot grow the audit queue (or the store) without bound.
    private var heldAnswers = 0
    private var closeWhenIdle = false
    /// Set once a `watch` was answered: the connection streams events and is not closed for idleness.
    private var watcher: EventWatcher?

    init(
        methods: MethodRegistry,
        socket: SocketKind,
        maxFrameBytes: Int,
        peer: PeerCredentials?,
        inFlight: InFlightTracker,
        logger: Logger
    ) {
        self.methods = methods
        self.socket = socket
        self.maxFrameBytes = maxFrameBytes
        self.peer = peer
        self.inFlight = inFlight
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .empty:
            let error = RPCError(.invalidRequest, "empty frame")
            auditProblem(context: context, error)
            send(context: context, RPCResponse.frame(id: .null, error: error, allocator: allocator(context)))
        case .tooLarge(let announced):
            let error = RPCError(
                .frameTooLarge, "the frame is larger than this socket accepts; closing the connection",
                data: ["announced": .int(Int64(announced)), "limit": .int(Int64(maxFrameBytes))]
            )
            auditProblem(context: context, error)
            let frame = RPCResponse.frame(id: .null, error: error, allocator: allocator(context))
            context.writeAndFlush(wrapOutboundOut(frame)).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
        case .frame(let payload):
            handle(context: context, payload: payload)
        }
    }

    /// What reading one frame led to.
    private enum Dispatch {
        case unreadable(RPCRequestError)
        case unknownMethod(RPCRequest)
        case called(id: JSONValue, entry: MethodEntry, call: CallContext, reply: MethodReply)
    }

    private func handle(context: ChannelHandlerContext, payload: ByteBuffer) {
        let started = NIODeadline.now()
        let dispatch = payload.withUnsafeReadableBytes { bytes -> Dispatch in
            let request: RPCRequest
            do throws(RPCRequestError) {
                request = try RPCRequest.parse(bytes)
            } catch {
                return .unreadable(error)
            }
            guard let entry = methods.entry(for: request.method) else { return .unknownMethod(request) }
            var call = CallContext(
                socket: socket, eventLoop: context.eventLoop, method: entry.name, peerUid: peer?.uid,
                peerPid: peer?.pid
            )
            // The params are read from the frame's bytes while they are at hand; a method that waits for I/O
            // keeps only its typed params.
            let reply = entry.call(bytes, params: request.paramsRange, context: &call)
            return .called(id: request.id, entry: entry, call: call, reply: reply)
        }
        let statistics = methods.engine.statistics
        switch dispatch {
        case .unreadable(let refusal):
            statistics.recordRequest(method: "unknown", outcome: refusal.error.reason.rawValue, micros: 0)
            auditProblem(context: context, refusal.error)
            send(
                context: context, RPCResponse.frame(id: refusal.id, error: refusal.error, allocator: allocator(context))
            )
        case .unknownMethod(let request):
            // The name is the caller's text: cut to 64 characters, as unknown param names are.
            let method = String(request.method.prefix(64))
            let error = RPCError(
                .methodNotFound, "no method \(method) on the \(socket.rawValue) socket",
                data: ["method": .string(method)]
            )
            statistics.recordRequest(method: "unknown", outcome: error.reason.rawValue, micros: 0)
            send(context: context, RPCResponse.frame(id: request.id, error: error, allocator: allocator(context)))
        case .called(let id, let entry, let call, let reply):
            pending += 1
            inFlight.begin()
            switch reply {
            case .now(let outcome):
                finish(context: context, id: id, entry: entry, call: call, outcome: outcome, started: started)
            case .later(let future):
                let logger = self.logger
                future.assumeIsolated().whenComplete { result in
                    let outcome: Result<MethodAnswer, RPCError>
                    switch result {
                    case .success(let answer): outcome = .success(answer)
                    case .failure(let error as RPCError): outcome = .failure(error)
                    case .failure(let error):
                        logger.error(
                            "method failed unexpectedly",
                            metadata: ["rpc.method": "\(entry.name)", "error.type": "\(type(of: error))"]
                        )
                        outcome = .failure(RPCError(.internalError, "internal error"))
                    }
                    self.finish(context: context, id: id, entry: entry, call: call, outcome: outcome, started: started)
                }
            }
        }
    }

    /// Audits, counts and answers a call that ended.
    private func finish(
        context: ChannelHandlerContext,
        id: JSONValue,
        entry: MethodEntry,
        call: CallContext,
        outcome: Result<MethodAnswer, RPCError>,
        started: NIODeadline
    ) {
        pending -= 1
        inFlight.end()
        let engine = methods.engine
        var auditWait: EventLoopFuture<Void>?
        switch (entry.kind, outcome) {
        case (.use, .success(let answer)): auditWait = engine.recordOutcome(call, .success(answer.facts))
        case (.use, .failure(let error)), (.write, .failure(let error)):
            auditWait = engine.recordOutcome(call, .failure(error))
        case (.read, .failure(let error)) where error.reason.refusesBeforeValidation:
            auditWait = engine.recordOutcome(call, .failure(error))
        default: break
        }
        let micros = (NIODeadline.now() - started).nanoseconds / 1_000
        let frame: ByteBuffer
        var subscription: WatchSubscription?
        switch outcome {
        case .success(let answer) where answer.watch != nil && watcher != nil:
            // One stream per connection.
            let error = RPCError(.invalidRequest, "this connection is already watching")
            engine.statistics.recordRequest(method: entry.name, outcome: error.reason.rawValue, micros: micros)
            frame = RPCResponse.frame(id: id, error: error, allocator: allocator(context))
        case .success(let answer):
            subscription = answer.watch
            engine.statistics.recordRequest(method: entry.name, outcome: "ok", micros: micros)
            if let source = answer.facts.source, let provider = answer.facts.provider {
                engine.statistics.recordResolution(provider: provider.text, source: source.rawValue)
            }
            frame = RPCResponse.frame(id: id, result: answer.result, allocator: allocator(context))
        case .failure(let error):
            engine.statistics.recordRequest(method: entry.name, outcome: error.reason.rawValue, micros: micros)
            frame = RPCResponse.frame(id: id, error: error, allocator: allocator(context))
        }
        guard let auditWait else {
            answer(context: context, frame)
            if let subscription { startWatching(context: context, subscription) }
            return
        }
        pending += 1
        heldAnswers += 1
        updateReading(context: context)
        auditWait.assumeIsolated().whenComplete { _ in
            self.pending -= 1
            self.heldAnswers -= 1
            self.answer(context: context, frame)
            if let subscription { self.startWatching(context: context, subscription) }
            self.updateReading(context: context)
        }
    }

    /// After a `watch` answer: events follow on this connection until it closes.
    private func startWatching(context: ChannelHandlerContext, _ subscription: WatchSubscription) {
        guard context.channel.isActive, watcher == nil else { return }
        closeWhenIdle = false
        let watcher = EventWatcher(
            engine: methods.engine, feed: methods.engine.eventFeed, context: context, subscription: subscription)
        self.watcher = watcher
        watcher.start()
    }

    private func allocator(_ context: ChannelHandlerContext) -> ByteBufferAllocator {
        context.channel.allocator
    }

    /// Audits a request refused before it named a method this socket has (an unreadable frame or request):
    /// the entry holds method `unknown`, the reason and the peer, never what was sent.
    private func auditProblem(context: ChannelHandlerContext, _ error: RPCError) {
        let callContext = CallContext(
            socket: socket, eventLoop: context.eventLoop, method: "unknown", peerUid: peer?.uid, peerPid: peer?.pid
        )
        guard let wait = methods.engine.recordOutcome(callContext, .failure(error)) else { return }
        heldAnswers += 1
        updateReading(context: context)
        wait.assumeIsolated().whenComplete { _ in
            self.heldAnswers -= 1
            self.updateReading(context: context)
        }
    }

    /// Reads from the peer only while its answers are being taken and none is held for the audit backlog.
    private func updateReading(context: ChannelHandlerContext) {
        let reading = context.channel.isWritable && heldAnswers == 0
        guard let options = context.channel.syncOptions,
            (try? options.getOption(ChannelOptions.autoRead)) != reading
        else { return }
        try? options.setOption(ChannelOptions.autoRead, value: reading)
        if reading { context.read() }
    }

    /// Sends an answer, then closes the connection if the idle timeout fired while it was being worked on.
    private func answer(context: ChannelHandlerContext, _ frame: ByteBuffer) {
        send(context: context, frame)
        if closeWhenIdle && pending == 0 { context.close(promise: nil) }
    }

    private func send(context: ChannelHandlerContext, _ frame: ByteBuffer) {
        guard context.channel.isActive else { return }
        context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
    }

    /// Back-pressure: while the peer is not reading its answers (the outbound buffer is above its high-water
    /// mark), stop reading its requests, so no client can make the daemon buffer without bound. A peer that
    /// stays like that is closed by the idle timeout.
    func channelWritabilityChanged(context: ChannelHandlerContext) {
        updateReading(context: context)
        if context.channel.isWritable { watcher?.deliver() }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        // Dropped, not only stopped: the watcher holds this handler's context, which holds the handler.
        watcher?.stop()
        watcher = nil
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        watcher?.stop()
        watcher = nil
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            // A watching connection is not closed for idleness (SPEC 11): heartbeats show whether it lives.
            if watcher != nil { return }
            if pending == 0 {
                context.close(promise: nil)
            } else {
                closeWhenIdle = true
            }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("connection error", metadata: ["error.type": "\(type(of: error))"])
        context.close(promise: nil)
    }
}
