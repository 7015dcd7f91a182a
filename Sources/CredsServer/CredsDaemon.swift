import CredsCluster
public import CredsCore
import CredsProtocol
import Dispatch
import Glibc
public import Logging
import NIOCore
import NIOPosix
public import ServiceLifecycle

/// The daemon as a `Service`: both sockets up until graceful shutdown, then drain and close.
public final class CredsDaemon: Service {
    /// Whether the daemon has its process to itself, which decides what it may take from the process.
    public enum Process: Sendable {
        /// `credsd serve`: systemd's sockets and notification socket come from the environment, and socket files
        /// get their mode through the process's umask.
        case own
        /// Shared with other code (in-process tests): the environment is not read (no systemd), and socket files
        /// get their mode through the umask of a thread of their own, so files others create meanwhile keep theirs.
        case shared
    }

    public let config: DaemonConfig
    public let engine: CredsEngine
    private let logger: Logger
    /// Longest wait for in-flight requests at shutdown.
    public let drainTimeout: Duration
    private let metrics: MetricsListener?
    private let process: Process
    private let resolveSettings: SettingsBox
    private let adminSettings: SettingsBox
    /// Open connections of both sockets, for shutdown and for reloads that remove a uid from an allowlist.
    private let registry = ChannelRegistry()
    private let cluster: ClusterFollower?

    /// Cluster mode's replica loop, as the daemon runs it: started before the sockets, cancelled after them.
    public struct ClusterFollower: Sendable {
        /// Follows the cluster until cancelled.
        public let run: @Sendable () async -> Void
        /// Whether the replica has synced once; a host that never has waits for it before it listens.
        public let hasSynced: @Sendable () -> Bool

        public init(run: @escaping @Sendable () async -> Void, hasSynced: @escaping @Sendable () -> Bool) {
            self.run = run
            self.hasSynced = hasSynced
        }
    }

    public init(
        config: DaemonConfig,
        engine: CredsEngine,
        logger: Logger,
        metrics: MetricsListener? = nil,
        drainTimeout: Duration = .seconds(10),
        process: Process = .own,
        cluster: ClusterFollower? = nil
    ) {
        self.cluster = cluster
        self.config = config
        self.metrics = metrics
        self.process = process
        resolveSettings = SettingsBox(Self.settings(.resolve, config))
        adminSettings = SettingsBox(Self.settings(.admin, config))
        self.drainTimeout = drainTimeout
        self.engine = engine
        self.logger = logger
    }

    private static func settings(_ kind: SocketKind, _ config: DaemonConfig) -> ListenerSettings {
        ListenerSettings(
            peerPolicy: kind == .resolve
                ? .resolve(config.sockets.resolveAllowUids) : .admin(config.sockets.adminAllowUids),
            maxConnections: config.limits.maxConnections,
            idleTimeout: .seconds(Int64(config.limits.idleTimeoutSeconds)),
            maxFrameBytes: kind == .resolve ? Frame.resolveSocketLimit : config.limits.maxFrameBytes
        )
    }

    /// Applies a reloaded configuration's allowlists and limits to new connections, and closes the open
    /// connections of peers the new allowlists no longer admit (SPEC 7). Returns how many were closed.
    @discardableResult
    public func applyLimits(_ config: DaemonConfig) -> Int {
        var closed = 0
        for (kind, box) in [(SocketKind.resolve, resolveSettings), (.admin, adminSettings)] {
            let settings = Self.settings(kind, config)
            box.replace(settings)
            let uids = registry.closeDisallowed(on: kind, by: settings.peerPolicy)
            for (uid, count) in Dictionary(uids.map { ($0, 1) }, uniquingKeysWith: +).sorted(by: { $0.key < $1.key }) {
                logger.warning(
                    "connections closed: peer no longer allowed",
                    metadata: ["socket": "\(kind.rawValue)", "conn.peer.uid": "\(uid)", "connections": "\(count)"]
                )
            }
            closed += uids.count
        }
        return closed
    }

    public func run() async throws {
        let activated = process == .own ? try ActivatedSockets.fromEnvironment() : ActivatedSockets()
        let notifier = process == .own ? SystemdNotifier() : SystemdNotifier.off
        let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
        let inFlight = InFlightTracker()
        let registry = self.registry
        let backlog = ListenBacklog.effective(configured: config.limits.listenBacklog)
        if let somaxconn = backlog.somaxconn, config.limits.listenBacklog > somaxconn {
            logger.notice(
                "listen backlog capped by net.core.somaxconn",
                metadata: [
                    "limits.listenBacklog": "\(config.limits.listenBacklog)", "net.core.somaxconn": "\(somaxconn)",
                    "listen.backlog": "\(backlog.value)",
                ]
            )
        }
        let following = cluster.map { cluster in Task { await cluster.run() } }
        if let cluster, !cluster.hasSynced() {
            // A new host serves nothing it has not got: it listens once it holds the cluster's records.
            logger.notice("cluster replica never synced: waiting for the cluster database before listening")
            while !cluster.hasSynced() && !Task.isShuttingDownGracefully && !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(20))
            }
            if !cluster.hasSynced() {
                if let following { await Self.stopFollowing(following, logger: logger) }
                engine.database.close()
                return
            }
        }
        let listeners = [
            SocketListener(
                kind: .resolve, path: config.sockets.resolve, mode: config.sockets.resolveMode,
                settings: resolveSettings,
                methods: .resolveSocket(engine), inFlight: inFlight, registry: registry, logger: logger,
                activatedFD: activated.byName["resolve"], privateUmask: process == .shared
            ),
            SocketListener(
                kind: .admin, path: config.sockets.admin, mode: config.sockets.adminMode,
                settings: adminSettings,
                methods: .adminSocket(engine), inFlight: inFlight, registry: registry, logger: logger,
                activatedFD: activated.byName["admin"], privateUmask: process == .shared
            ),
        ]
        var servers: [any Channel] = []
        var backlogs: [String] = []
        var metricsChannel: (any Channel)?
        do {
            for listener in listeners {
                let (server, inForce) = try await listener.start(group: group, backlog: backlog.value)
                servers.append(server)
                backlogs.append("\(listener.kind.rawValue)=\(inForce)")
            }
            if let metrics, let listen = config.metrics.listen, let (host, port) = MetricsConfig.split(listen) {
                let settings = resolveSettings
                metricsChannel = try await metrics.start(
                    host: host, port: port, group: group, engine: engine, logger: logger,
                    idleTimeout: { settings.current.idleTimeout }
                )
            }
        } catch {
            for server in servers { try? await server.close() }
            for listener in listeners.prefix(servers.count) where listener.ownsSocketFile { unlink(listener.path) }
            await Self.shutDown(group)
            if let following { await Self.stopFollowing(following, logger: logger) }
            engine.database.close()
            throw error
        }
        logger.info(
            "credsd listening",
            metadata: [
                "version": "\(CredsVersion.current)",
                "socket.resolve": "\(config.sockets.resolve)",
                "socket.admin": "\(config.sockets.admin)",
                "data.dir": "\(config.dataDir)",
                "keys": "\(engine.keyRing.ids.joined(separator: ","))",
                "encryption": "\(engine.keyRing.active == nil ? "missing" : "configured")",
                "metrics.listen": "\(config.metrics.listen ?? "off")",
                "listen.backlog": "\(backlogs.joined(separator: ","))",
                "socket.activation":
                    "\(activated.byName.isEmpty ? "none" : activated.byName.keys.sorted().joined(separator: ","))",
            ]
        )
        notifier.notify("READY=1\nSTATUS=serving\nMAINPID=\(getpid())")
        let delivering = engine.webhookDeliverer.map { deliverer in Task { await deliverer.run() } }
        let probing = engine.backgroundProber.map { prober in Task { await prober.run() } }

        await withTaskGroup(of: Void.self) { tasks in
            if let interval = notifier.watchdogInterval {
                tasks.addTask {
                    while !Task.isCancelled {
                        notifier.notify("WATCHDOG=1")
                        try? await Task.sleep(for: interval)
                    }
                }
            }
            await GracefulShutdownWaiter.wait()
            tasks.cancelAll()
        }
        notifier.notify("STOPPING=1\nSTATUS=draining")

        logger.info("credsd stopping", metadata: ["requests.inflight": "\(inFlight.current)"])
        for server in servers { try? await server.close() }
        try? await metricsChannel?.close()
        let clock = ContinuousClock()
        let deadline = clock.now + drainTimeout
        while inFlight.current > 0 && clock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        registry.closeAll()
        engine.eventFeed.stop()
        if let probing {
            probing.cancel()
            await probing.value
        }
        if let delivering {
            // The loop stops before its next event; a POST in flight ends with its timeout (5 s) at most, and what it
            // was delivering is sent again next time.
            delivering.cancel()
            await delivering.value
        }
        for listener in listeners where listener.ownsSocketFile { unlink(listener.path) }
        await Self.shutDown(group)
        engine.flushRefusalSummaries()
        if let following { await Self.stopFollowing(following, logger: logger) }
        engine.database.close()
        logger.info("credsd stopped")
    }

    /// Cancels the cluster replica loop and waits for it, at most 5 s: a stop must not hang on the database (a
    /// query in flight on a connection that does not answer ignores cancellation until the connection closes).
    private static func stopFollowing(_ following: Task<Void, Never>, logger: Logger) async {
        following.cancel()
        do {
            try await withDeadline(.seconds(5), "cluster replica stop") { await following.value }
        } catch {
            logger.warning("cluster replica loop did not stop within 5 s; stopping without it")
        }
    }

    /// Shuts the event loops down. NIO's `shutdownGracefully()` finishes on `DispatchQueue.global()`, whose threads
    /// on Linux are those of Swift's cooperative pool: in a process whose pool threads were all blocked (synchronous
    /// tests waiting for an in-process daemon) it took 0.69 s instead of 0.6 ms, until libdispatch added a thread.
    /// A queue of its own runs on threads Dispatch adds as needed.
    private static func shutDown(_ group: MultiThreadedEventLoopGroup) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            group.shutdownGracefully(queue: DispatchQueue(label: "credsd.shutdown")) { _ in continuation.resume() }
        }
    }
}
