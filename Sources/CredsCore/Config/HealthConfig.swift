/// `[health]` (SPEC 11).
public struct HealthConfig: Sendable, Equatable {
    /// Re-test `active` API-key connections in the background this often (0: off).
    public var probeEverySeconds = 0

    public init() {}
}
