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

    private let table: MethodTable
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

    init(
        table: MethodTable,
        socket: SocketKind,
        maxFrameBytes: Int,
        peer: PeerCredentials?,
        inFlight: InFlightTracker,
        logger: Logger
    ) {
        self.table = table
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
            auditRefusal(context: context, error)
            send(context: context, RPCResponse.failure(id: .null, error: error))
        case .tooLarge(let announced):
            let error = RPCError(
                .frameTooLarge, "the frame is larger than this socket accepts; closing the connection",
                data: ["announced": .int(Int64(announced)), "limit": .int(Int64(maxFrameBytes))]
            )
            auditRefusal(context: context, error)
            let frame = context.channel.allocator.buffer(
                bytes: Frame.encode(RPCResponse.failure(id: .null, error: error)))
            context.writeAndFlush(wrapOutboundOut(frame)).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
        case .frame(let payload):
            handle(context: context, payload: payload)
        }
    }

    private func handle(context: ChannelHandlerContext, payload: ByteBuffer) {
        let request: RPCRequest
        do {
            request = try RPCRequest.parse(payload.readableBytesView)
        } catch {
            table.engine.statistics.recordRequest(method: "unknown", outcome: error.error.reason.rawValue, micros: 0)
            auditRefusal(context: context, error.error)
            send(context: context, RPCResponse.failure(id: error.id, error: error.error))
            return
        }
        guard let entry = table.entry(for: request.method) else {
            let error = RPCError(
                .methodNotFound, "no method \(request.method) on the \(socket.rawValue) socket",
                data: ["method": .string(request.method)]
            )
            table.engine.statistics.recordRequest(method: "unknown", outcome: error.reason.rawValue, micros: 0)
            send(context: context, RPCResponse.failure(id: request.id, error: error))
            return
        }
        let callContext = CallContext(
            socket: socket, eventLoop: context.eventLoop, method: request.method, params: request.params,
            peerUid: peer?.uid, peerPid: peer?.pid
        )
        pending += 1
        inFlight.begin()
        let started = NIODeadline.now()
        let id = request.id
        let logger = self.logger
        let engine = table.engine
        entry.handler(request.params, callContext).assumeIsolated().whenComplete { result in
            self.pending -= 1
            self.inFlight.end()
            let outcome: Result<JSONValue, RPCError>
            switch result {
            case .success(let value):
                outcome = .success(value)
            case .failure(let error as RPCError):
                outcome = .failure(error)
            case .failure(let error):
                logger.error(
                    "method failed unexpectedly",
                    metadata: ["rpc.method": "\(request.method)", "error.type": "\(type(of: error))"]
                )
                outcome = .failure(RPCError(.internalError, "internal error"))
            }
            var auditWait: EventLoopFuture<Void>?
            switch (entry.kind, outcome) {
            case (.use, _), (.write, .failure): auditWait = engine.recordOutcome(callContext, outcome)
            case (.read, .failure(let error)) where error.reason.refusesBeforeValidation:
                auditWait = engine.recordOutcome(callContext, outcome)
            default: break
            }
            let micros = (NIODeadline.now() - started).nanoseconds / 1_000
            switch outcome {
            case .success(let value):
                engine.statistics.recordRequest(method: request.method, outcome: "ok", micros: micros)
                if request.method == "resolve", let provider = value["provider"]?.stringValue,
                    let source = value["source"]?.stringValue
                {
                    engine.statistics.recordResolution(provider: provider, source: source)
                }
            case .failure(let error):
                engine.statistics.recordRequest(method: request.method, outcome: error.reason.rawValue, micros: micros)
            }
            let answer: [UInt8]
            switch outcome {
            case .success(let value): answer = RPCResponse.success(id: id, result: value)
            case .failure(let error): answer = RPCResponse.failure(id: id, error: error)
            }
            guard let auditWait else {
                self.answer(context: context, answer)
                return
            }
            self.pending += 1
            self.heldAnswers += 1
            self.updateReading(context: context)
            auditWait.assumeIsolated().whenComplete { _ in
                self.pending -= 1
                self.heldAnswers -= 1
                self.answer(context: context, answer)
                self.updateReading(context: context)
            }
        }
    }

    /// Audits a request refused before it named a method this socket has (an unreadable frame or request):
    /// the entry holds method `unknown`, the reason and the peer, never what was sent.
    private func auditRefusal(context: ChannelHandlerContext, _ error: RPCError) {
        let callContext = CallContext(
            socket: socket, eventLoop: context.eventLoop, method: "unknown", peerUid: peer?.uid, peerPid: peer?.pid
        )
        guard let wait = table.engine.recordOutcome(callContext, .failure(error)) else { return }
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
    private func answer(context: ChannelHandlerContext, _ payload: [UInt8]) {
        send(context: context, payload)
        if closeWhenIdle && pending == 0 { context.close(promise: nil) }
    }

    private func send(context: ChannelHandlerContext, _ payload: [UInt8]) {
        guard context.channel.isActive else { return }
        let frame = context.channel.allocator.buffer(bytes: Frame.encode(payload))
        context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
    }

    /// Back-pressure: while the peer is not reading its answers (the outbound buffer is above its high-water
    /// mark), stop reading its requests, so no client can make the daemon buffer without bound. A peer that
    /// stays like that is closed by the idle timeout.
    func channelWritabilityChanged(context: ChannelHandlerContext) {
        updateReading(context: context)
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
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
