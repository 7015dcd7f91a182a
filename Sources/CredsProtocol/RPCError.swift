/// An error answered to a client: a stable reason, a message for people, and extra data for programs.
///
/// Messages never contain secrets: they are built from constant text and caller-supplied names only.
public struct RPCError: Error, Sendable, Equatable, CustomStringConvertible {
    public let reason: ErrorReason
    public let message: String
    /// Extra members of `error.data` beside `reason`.
    public let data: [String: JSONValue]
    /// What the audit entry of the refused call records beyond the caller's own params (the workspace that owns
    /// a connection id, say), where telling the caller would be an oracle. Never sent.
    public var auditFacts: [String: Identifier] = [:]
    /// Audit this failure like a refusal before validation (no field the caller sent, paced per peer uid)
    /// although its reason is not one of those: a grant used outside its scope, say.
    public var auditsAsRefusal = false

    public init(_ reason: ErrorReason, _ message: String, data: [String: JSONValue] = [:]) {
        self.reason = reason
        self.message = message
        self.data = data
    }

    /// This error with facts for the audit entry added.
    public func auditing(_ facts: [String: Identifier]) -> RPCError {
        var error = self
        error.auditFacts.merge(facts) { _, new in new }
        return error
    }

    /// The JSON-RPC `error` object.
    public var json: JSONValue {
        var data = self.data
        data["reason"] = .string(reason.rawValue)
        return ["code": .int(reason.code), "message": .string(message), "data": .object(data)]
    }

    public var description: String { "\(reason.rawValue): \(message)" }

    /// `invalid_params` with a message.
    public static func invalidParams(_ message: String) -> RPCError {
        RPCError(.invalidParams, message)
    }
}
