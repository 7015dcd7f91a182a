import CredsProtocol
import NIOCore

/// Answers one error (id `null`) to a connection that may not be served, then closes it.
final class RejectHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let error: RPCError
    private var sent = false

    init(error: RPCError) {
        self.error = error
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { reject(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        reject(context: context)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

    private func reject(context: ChannelHandlerContext) {
        guard !sent else { return }
        sent = true
        let frame = RPCResponse.frame(id: .null, error: error, allocator: context.channel.allocator)
        context.writeAndFlush(wrapOutboundOut(frame)).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }
}
