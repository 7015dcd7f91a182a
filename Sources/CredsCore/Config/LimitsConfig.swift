/// `[limits]`: frame size on the admin socket, connections per socket, idle timeout.
public struct LimitsConfig: Sendable, Equatable {
    public var maxFrameBytes = 1_048_576
    public var maxConnections = 1024
    public var idleTimeoutSeconds = 60

    public init() {}
}
