import CredsProtocol
import Synchronization

/// GitHub installation tokens minted for each connection, reused until they near expiry.
/// Kept in memory only: a restart mints new ones.
///
/// Each token is kept with the revision of the connection record it was minted for, and served only for that
/// revision: every write to the connection (a re-authorization to another installation, a revoke) bumps the
/// revision, so a token of the old installation is never served after it, even one whose mint was in flight.
final class InstallationTokenCache: Sendable {
    private let tokens = Mutex<[Identifier: (revision: UInt64, token: AccessToken)]>([:])

    func token(for connectionId: Identifier, revision: UInt64) -> AccessToken? {
        tokens.withLock { tokens in
            guard let entry = tokens[connectionId], entry.revision == revision else { return nil }
            return entry.token
        }
    }

    func store(_ token: AccessToken, for connectionId: Identifier, revision: UInt64) {
        tokens.withLock { tokens in
            if let current = tokens[connectionId], current.revision > revision { return }
            tokens[connectionId] = (revision, token)
        }
    }

    func remove(_ connectionId: Identifier) {
        tokens.withLock { _ = $0.removeValue(forKey: connectionId) }
    }
}
