import CredsCore
import CredsProtocol
import Glibc
import Logging
import NIOCore
import NIOPosix

/// One listening socket: its bootstrap, its per-connection pipeline and its limits.
struct SocketListener: Sendable {
    let kind: SocketKind
    let path: String
    let mode: UInt32
    let settings: SettingsBox
    let counter = ConnectionCounter()
    let methods: MethodRegistry
    let inFlight: InFlightTracker
    let registry: ChannelRegistry
    let logger: Logger

    /// A socket handed over by systemd, used as it is; nil to create the socket file here.
    let activatedFD: Int32?

    /// Whether the socket file's mode is set through a thread's own umask rather than the process's.
    let privateUmask: Bool

    /// Whether credsd created the socket file (and so removes it at shutdown).
    var ownsSocketFile: Bool { activatedFD == nil }

    /// Creates the socket file with its final mode (or takes systemd's) and starts accepting.
    ///
    /// `backlog` is the `listen(2)` backlog for a socket created here; an activated socket keeps the backlog
    /// systemd gave it (`Backlog=`), or gets `backlog` when that cannot be read. Returns the backlog in force.
    func start(group: any EventLoopGroup, backlog configured: Int32) async throws -> (
        channel: any Channel, backlog: Int32
    ) {
        let fd: Int32
        var backlog = configured
        if let activatedFD {
            fd = activatedFD
            // Read before NIO takes the socket: NIO listens again with its own default (128).
            if let given = ListenBacklog.current(fd: fd), let value = Int32(exactly: given), value > 0 {
                backlog = value
            } else {
                logger.warning(
                    "cannot read the activated socket's backlog; using listenBacklog",
                    metadata: ["socket": "\(kind.rawValue)", "listen.backlog": "\(configured)"]
                )
            }
        } else {
            fd = try UnixSocketBinder.bind(path: path, mode: mode, backlog: configured, privateUmask: privateUmask)
        }
        let listener = self
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: backlog)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    // NIO's `withBoundSocket` has just called `listen(fd, 128)`; the `.backlog` option above only
                    // records the number. Listening again is how Linux changes the backlog of a listening socket.
                    guard Glibc.listen(fd, backlog) == 0 else { throw IOError(errnoCode: errno, reason: "listen") }
                    try channel.pipeline.syncOperations.addHandler(
                        AcceptBackoff(socket: listener.kind, logger: listener.logger))
                }
            }
            .childChannelOption(.writeBufferWaterMark, value: .init(low: 256 * 1024, high: 1024 * 1024))
            .childChannelInitializer { channel in
                listener.initialize(channel)
            }
            .withBoundSocket(fd)
            .get()
        return (channel, backlog)
    }

    private func initialize(_ channel: any Channel) -> EventLoopFuture<Void> {
        registry.add(channel)
        let settings = self.settings.current
        guard counter.tryAcquire(limit: settings.maxConnections) else {
            logger.warning(
                "connection refused: socket full",
                metadata: ["socket": "\(kind.rawValue)", "limit": "\(settings.maxConnections)"]
            )
            return add(
                RejectHandler(error: RPCError(.overloaded, "too many open connections on this socket")), to: channel)
        }
        let counter = self.counter
        let statistics = methods.engine.statistics
        let socket = kind.rawValue
        statistics.connectionOpened(socket: socket)
        channel.closeFuture.whenComplete { _ in
            counter.release()
            statistics.connectionClosed(socket: socket)
        }
        return peerCredentials(of: channel).flatMap { peer in
            // Registered first and checked against the policy in force now (not the one read at accept): a reload
            // that replaced the policy after this check sweeps this connection with the others.
            self.registry.admit(channel, socket: self.kind, peer: peer)
            guard self.settings.current.peerPolicy.allows(peer) else {
                self.logger.warning(
                    "connection refused: peer not allowed",
                    metadata: ["socket": "\(self.kind.rawValue)", "conn.peer.uid": "\(peer?.uid ?? UInt32.max)"]
                )
                return self.add(
                    RejectHandler(error: RPCError(.forbidden, "this user may not use this socket")), to: channel)
            }
            var logger = self.logger
            logger[metadataKey: "conn.peer.uid"] = "\(peer?.uid ?? UInt32.max)"
            logger[metadataKey: "conn.peer.pid"] = "\(peer?.pid ?? -1)"
            return channel.eventLoop.makeCompletedFuture {
                let pipeline = channel.pipeline.syncOperations
                try pipeline.addHandler(IdleStateHandler(readTimeout: settings.idleTimeout))
                try RPCPipeline.add(
                    to: pipeline, methods: self.methods, maxFrameBytes: settings.maxFrameBytes, peer: peer,
                    inFlight: self.inFlight, logger: logger)
            }
        }
    }

    private func add(_ handler: RejectHandler, to channel: any Channel) -> EventLoopFuture<Void> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(handler)
        }
    }

    private func peerCredentials(of channel: any Channel) -> EventLoopFuture<PeerCredentials?> {
        guard let provider = channel as? any SocketOptionProvider else {
            return channel.eventLoop.makeSucceededFuture(nil)
        }
        return provider.unsafeGetSocketOption(level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED))
            .map { (credentials: RawPeerCredentials) in
                Optional(PeerCredentials(pid: credentials.pid, uid: credentials.uid, gid: credentials.gid))
            }
            .recover { _ in nil }
    }
}

/// Layout of Linux's `struct ucred` (pid, uid, gid), which Swift's Glibc module does not export.
struct RawPeerCredentials: Sendable {
    var pid: Int32 = 0
    var uid: UInt32 = 0
    var gid: UInt32 = 0
}
