public import CredsCore
public import Logging
public import NIOCore
import CredsProtocol

/// The handlers that serve one connection of a socket: frames in, answers out. `SocketListener` adds them to
/// every accepted connection; tests add them to an `EmbeddedChannel` to drive the pipeline without a socket.
public enum RPCPipeline {
    /// Adds the frame decoder and the request handler for `methods` to `channel`'s pipeline (no idle timeout:
    /// the listener adds that in front).
    public static func add(
        to pipeline: ChannelPipeline.SynchronousOperations,
        methods: MethodRegistry,
        maxFrameBytes: Int,
        logger: Logger
    ) throws {
        try add(
            to: pipeline, methods: methods, maxFrameBytes: maxFrameBytes, peer: nil, inFlight: InFlightTracker(),
            logger: logger)
    }

    static func add(
        to pipeline: ChannelPipeline.SynchronousOperations,
        methods: MethodRegistry,
        maxFrameBytes: Int,
        peer: PeerCredentials?,
        inFlight: InFlightTracker,
        logger: Logger
    ) throws {
        try pipeline.addHandlers([
            ByteToMessageHandler(FrameDecoder(maxFrameBytes: maxFrameBytes)),
            RPCHandler(
                methods: methods, socket: methods.socket, maxFrameBytes: maxFrameBytes, peer: peer,
                inFlight: inFlight, logger: logger),
        ])
    }
}
