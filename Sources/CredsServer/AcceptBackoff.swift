import CredsCore
import Glibc
import Logging
import NIOCore

/// Pauses a listening socket after a failed `accept` (out of file descriptors, out of memory), logging why.
///
/// The failed connection stays in the kernel's queue, so the socket stays readable: NIO would call `accept`
/// again at once, tens of thousands of times a second (measured: ~37,000/s; NIO's `AcceptBackoffHandler` only
/// delays the next `read`, which a failed accept never consumed). Turning `autoRead` off takes the socket out
/// of epoll; it is turned back on after a pause that starts at 50 ms and doubles up to 1 s while accepts keep
/// failing. Connections already open are served throughout.
final class AcceptBackoff: ChannelInboundHandler {
    typealias InboundIn = any Channel

    static let firstPause = TimeAmount.milliseconds(50)
    static let longestPause = TimeAmount.seconds(1)

    private let socket: SocketKind
    private let logger: Logger
    private var nextPause = AcceptBackoff.firstPause
    private var failures = 0

    init(socket: SocketKind, logger: Logger) {
        self.socket = socket
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if failures > 0 {
            logger.notice(
                "accepting again", metadata: ["socket": "\(socket.rawValue)", "failed.accepts": "\(failures)"])
            failures = 0
            nextPause = Self.firstPause
        }
        context.fireChannelRead(data)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let error = error as? IOError, Self.isExhaustion(error.errnoCode) else {
            logger.error("listening socket error", metadata: ["socket": "\(socket.rawValue)", "error": "\(error)"])
            context.fireErrorCaught(error)
            return
        }
        failures += 1
        let pause = nextPause
        nextPause = min(nextPause * 2, Self.longestPause)
        logger.error(
            "accept failed; retrying in \(pause.nanoseconds / 1_000_000) ms",
            metadata: ["socket": "\(socket.rawValue)", "errno": "\(error.errnoCode)", "error": "\(error)"]
        )
        let channel = context.channel
        do {
            try channel.syncOptions?.setOption(.autoRead, value: false)
        } catch {
            return
        }
        context.eventLoop.assumeIsolated().scheduleTask(in: pause) {
            if channel.isActive { try? channel.syncOptions?.setOption(.autoRead, value: true) }
        }
    }

    /// Errors that mean "no resources for one more connection right now".
    static func isExhaustion(_ code: Int32) -> Bool {
        code == EMFILE || code == ENFILE || code == ENOBUFS || code == ENOMEM
    }
}
