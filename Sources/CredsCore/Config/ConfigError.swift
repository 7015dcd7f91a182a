/// A configuration problem; the message names the key and never contains a secret.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Dotted key, e.g. `sockets.resolveMode`, or the file for file-level problems.
    public let key: String
    public let problem: String

    public init(key: String, problem: String) {
        self.key = key
        self.problem = problem
    }

    public var description: String { "\(key): \(problem)" }
}
