// credsd-nio-echo: the least a SwiftNIO frame server can do, for `make bench`. It answers every length-prefixed
// frame with a fixed frame of --answer-bytes bytes, with credsd's own frame decoder on NIO's event loops and no
// other work, so each run shows what NIO itself costs next to what credsd adds.
//
//   credsd-nio-echo --socket PATH --answer-bytes N
import CredsProtocol
import NIOCore
import NIOPosix

final class FixedAnswerHandler: ChannelInboundHandler {
    typealias InboundIn = FrameEvent
    typealias OutboundOut = ByteBuffer

    private let answer: ByteBuffer

    init(answer: ByteBuffer) {
        self.answer = answer
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.write(wrapOutboundOut(answer), promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }
}

var socketPath: String?
var answerBytes = 300
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let name = arguments.next() {
    guard let value = arguments.next() else { break }
    switch name {
    case "--socket": socketPath = value
    case "--answer-bytes": answerBytes = Int(value) ?? answerBytes
    default: break
    }
}
guard let socketPath else {
    print("usage: credsd-nio-echo --socket PATH --answer-bytes N")
    exit(64)
}
let answer = ByteBuffer(bytes: Frame.encode([UInt8](repeating: UInt8(ascii: "x"), count: answerBytes)))
let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
let server = try ServerBootstrap(group: group)
    .serverChannelOption(.backlog, value: 1024)
    .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder(maxFrameBytes: 65_536)))
            try channel.pipeline.syncOperations.addHandler(FixedAnswerHandler(answer: answer))
        }
    }
    .bind(unixDomainSocketPath: socketPath, cleanupExistingSocketFile: true)
    .wait()
try server.closeFuture.wait()
