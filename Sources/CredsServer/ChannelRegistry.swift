import CredsCore
import CredsProtocol
import NIOCore
import Synchronization

/// The open client connections of both sockets, with the peer each one was admitted for: shutdown closes what is
/// left after draining, and a reload closes the connections of peers the new allowlists no longer admit.
final class ChannelRegistry: Sendable {
    private struct Entry {
        let channel: any Channel
        /// Set once the peer passed the socket's uid check.
        var admitted: (socket: SocketKind, peer: PeerCredentials?)?
    }

    private let channels = Mutex<[ObjectIdentifier: Entry]>([:])

    func add(_ channel: any Channel) {
        channels.withLock { $0[ObjectIdentifier(channel)] = Entry(channel: channel) }
        channel.closeFuture.whenComplete { _ in
            self.channels.withLock { _ = $0.removeValue(forKey: ObjectIdentifier(channel)) }
        }
    }

    /// Records that `channel` is served on `socket` for `peer`, so that `closeDisallowed` can find it.
    ///
    /// Call this before checking the peer against the socket's current policy: a reload either replaced the
    /// policy before that check, or sweeps after this entry exists, so no connection slips between the two.
    func admit(_ channel: any Channel, socket: SocketKind, peer: PeerCredentials?) {
        channels.withLock { $0[ObjectIdentifier(channel)]?.admitted = (socket, peer) }
    }

    /// Closes every admitted connection on `socket` whose peer `policy` no longer allows, after one `forbidden`
    /// answer (id `null`). Returns the uids of the peers closed.
    func closeDisallowed(on socket: SocketKind, by policy: PeerPolicy) -> [UInt32] {
        let closing = channels.withLock { entries in
            entries.values.compactMap { entry -> (any Channel, UInt32)? in
                guard let admitted = entry.admitted, admitted.socket == socket, !policy.allows(admitted.peer) else {
                    return nil
                }
                return (entry.channel, admitted.peer?.uid ?? UInt32.max)
            }
        }
        let answer = RPCResponse.frame(
            id: .null, error: RPCError(.forbidden, "this user may no longer use this socket"),
            allocator: ByteBufferAllocator())
        for (channel, _) in closing {
            // Written and closed on the channel's loop, one after the other: the answer goes out whole (answers are
            // written as whole frames on that loop too), and the close does not wait on a peer that stopped reading.
            channel.eventLoop.execute {
                channel.writeAndFlush(answer, promise: nil)
                channel.close(promise: nil)
            }
        }
        return closing.map(\.1)
    }

    func closeAll() {
        let open = channels.withLock { $0.values.map(\.channel) }
        for channel in open { channel.close(promise: nil) }
    }
}
