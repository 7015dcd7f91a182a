/// `[limits]`: frame size on the admin socket, connections per socket, idle timeout, listen backlog.
public struct LimitsConfig: Sendable, Equatable {
    public var maxFrameBytes = 1_048_576
    public var maxConnections = 1024
    public var idleTimeoutSeconds = 60
    /// `listen(2)` backlog of the sockets credsd binds itself, capped by `net.core.somaxconn` at startup.
    /// Systemd-activated sockets keep the unit's `Backlog=`. Changing it needs a restart.
    public var listenBacklog = 4096

    public init() {}
}
