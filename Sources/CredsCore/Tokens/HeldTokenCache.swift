import CredsProtocol
import Synchronization

/// Access tokens held in memory per connection, not in the store: GitHub installation tokens minted by this
/// host (reused until they near expiry), and Google tokens a cluster host refreshed while the database was away
/// (it cannot write them back). A restart forgets them.
///
/// Each token is kept with the revision of the connection record it was obtained for, and served only for that
/// revision: every write to the connection (a re-authorization to another installation, a revoke) bumps the
/// revision, so a token of the old authorization is never served after it, even one whose request was in flight.
final class HeldTokenCache: Sendable {
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
