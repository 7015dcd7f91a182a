import Glibc

/// Who may talk on a socket: an allowlist of uids, plus root and the daemon's own uid always.
struct PeerPolicy: Sendable {
    /// Allowed uids; nil means any peer that can open the socket.
    let allowedUids: Set<UInt32>?

    /// Resolve socket: empty list means anyone who can open it.
    static func resolve(_ uids: [UInt32]) -> PeerPolicy {
        PeerPolicy(allowedUids: uids.isEmpty ? nil : Set(uids))
    }

    /// Admin socket: empty list means only root and the daemon's own uid.
    static func admin(_ uids: [UInt32]) -> PeerPolicy {
        PeerPolicy(allowedUids: Set(uids))
    }

    func allows(_ peer: PeerCredentials?) -> Bool {
        guard let allowedUids else { return true }
        guard let peer else { return false }
        return peer.uid == 0 || peer.uid == getuid() || allowedUids.contains(peer.uid)
    }
}
