public import CredsProtocol

/// Why a call through `CredsClient` failed.
public enum CredsClientError: Error, Sendable, CustomStringConvertible {
    /// The socket could not be opened or reached.
    case connect(path: String, problem: String)
    /// Reading or writing failed, or timed out.
    case io(String)
    /// The daemon closed the connection.
    case closed
    /// The daemon answered something that is not a JSON-RPC answer.
    case malformedAnswer(String)
    /// The daemon answered with an error.
    case remote(CredsRemoteError)

    public var description: String {
        switch self {
        case .connect(let path, let problem): return "cannot connect to \(path): \(problem)"
        case .io(let problem): return "socket error: \(problem)"
        case .closed: return "the daemon closed the connection"
        case .malformedAnswer(let problem): return "malformed answer: \(problem)"
        case .remote(let error): return error.description
        }
    }

    /// The stable reason of a remote error, if this is one.
    public var reason: String? {
        if case .remote(let error) = self { return error.reason }
        return nil
    }
}

/// An error answered by credsd: `reason` is what programs branch on.
public struct CredsRemoteError: Error, Sendable, CustomStringConvertible {
    public let code: Int64
    public let reason: String
    public let message: String
    /// The whole `error.data` object, `reason` included.
    public let data: [String: JSONValue]

    public init(json: JSONValue) {
        code = json["code"]?.intValue ?? 0
        message = json["message"]?.stringValue ?? ""
        data = json["data"]?.objectValue ?? [:]
        reason = data["reason"]?.stringValue ?? "unknown"
    }

    public var description: String { "\(reason): \(message)" }
}
