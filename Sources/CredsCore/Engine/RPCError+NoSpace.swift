import CredsProtocol

extension RPCError {
    /// A write refused because the data directory's filesystem (or quota) is full. The contract has no reason
    /// of its own for it: `internal_error` with `data.store = "no_space"` (proto/errors.md).
    static let noSpace = RPCError(
        .internalError,
        "the data directory's filesystem is full; nothing was changed",
        data: ["store": "no_space"]
    )
}
