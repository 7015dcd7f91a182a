internal import CSodium

/// One-time initialisation of libsodium; every entry point of this module calls `Sodium.ensureInitialized()`.
public enum Sodium {
    private static let initialized: Bool = sodium_init() >= 0

    /// Initialises libsodium once per process; traps if the library cannot start (no entropy source).
    public static func ensureInitialized() {
        precondition(initialized, "libsodium failed to initialise")
    }
}
