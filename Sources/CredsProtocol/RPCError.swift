/// An error answered to a client: a stable reason, a message for people, and extra data for programs.
///
/// Messages never contain secrets: they are built from constant text and caller-supplied names only.
public struct RPCError: Error, Sendable, Equatable, CustomStringConvertible {
    public let reason: ErrorReason
    public let message: String
    /// Extra members of `error.data` beside `reason`.
    public let data: [String: JSONValue]

    public init(_ reason: ErrorReason, _ message: String, data: [String: JSONValue] = [:]) {
        self.reason = reason
        self.message = message
        self.data = data
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
