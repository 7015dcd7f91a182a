public import CredsProtocol
public import NIOCore

extension MethodRegistry {
    /// Calls `method` in process, as the server would: `params` are encoded as JSON and read from those bytes.
    /// For tests and fuzzing; the answer is not audited (the server's handler does that).
    public func call(
        _ method: String,
        _ params: [String: JSONValue],
        on eventLoop: any EventLoop,
        peerUid: UInt32? = nil,
        peerPid: Int32? = nil
    ) -> EventLoopFuture<JSONValue> {
        guard let entry = entry(for: method) else {
            return eventLoop.makeFailedFuture(RPCError(.methodNotFound, "no method \(method) on this socket"))
        }
        let context = CallContext(
            socket: socket, eventLoop: eventLoop, method: entry.name, peerUid: peerUid, peerPid: peerPid)
        let bytes = JSONValue.object(params).serialized()
        return eventLoop.flatSubmit {
            var context = context
            let reply = bytes.withUnsafeBytes { raw in entry.call(raw, params: 0..<raw.count, context: &context) }
            switch reply {
            case .now(let result): return eventLoop.makeCompletedFuture(result.map(\.json).mapError { $0 })
            case .later(let future): return future.map(\.json)
            }
        }
    }
}
