import Synchronization

/// GitHub installation tokens minted for each connection, reused until they near expiry.
/// Kept in memory only: a restart mints new ones.
final class InstallationTokenCache: Sendable {
    private let tokens = Mutex<[String: AccessToken]>([:])

    func token(for connectionId: String) -> AccessToken? {
        tokens.withLock { $0[connectionId] }
    }

    func store(_ token: AccessToken, for connectionId: String) {
        tokens.withLock { $0[connectionId] = token }
    }

    func remove(_ connectionId: String) {
        tokens.withLock { _ = $0.removeValue(forKey: connectionId) }
    }
}
