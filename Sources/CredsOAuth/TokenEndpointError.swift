/// The provider could not be reached or did not answer in time. Never carries a request or a token.
public struct TokenEndpointError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable {
        case timeout
        case unreachable
    }

    public let kind: Kind
    /// The host that failed, for logs.
    public let host: String

    public init(kind: Kind, host: String) {
        self.kind = kind
        self.host = host
    }

    public var description: String {
        kind == .timeout ? "\(host) did not answer in time" : "\(host) could not be reached"
    }
}
