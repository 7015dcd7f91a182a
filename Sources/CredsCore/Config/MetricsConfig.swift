/// `[metrics]` (an extension of the contract's configuration): the optional Prometheus listener.
public struct MetricsConfig: Sendable, Equatable {
    /// `host:port` to serve `/metrics` on (`127.0.0.1:9464`, `[::1]:9464`); nil: off.
    public var listen: String?

    public init() {}

    /// The host and port of `listen`, if it is well formed.
    public static func split(_ listen: String) -> (host: String, port: Int)? {
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]),
            (1...65_535).contains(port)
        else { return nil }
        var host = String(listen[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { return nil }
        return (host, port)
    }
}
