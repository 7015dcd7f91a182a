public import CredsProtocol
import Glibc

/// `[cluster]` (SPEC 10): PostgreSQL is the source of truth and this host's store a replica.
public struct ClusterConfig: Sendable, Equatable {
    public var postgres: PostgresURL
    /// The file holding the database user's password (a secret file, SPEC 7); nil: no password.
    public var passwordFile: String?
    /// This host's name in the cluster; the hostname by default.
    public var hostId: Identifier
    /// Catch-up without a notification, also the heartbeat.
    public var pollSeconds = 10
    /// 0: serve from the replica however old; N: past N s without contact, resolve answers `store_unavailable`.
    public var maxStalenessSeconds = 0

    public static let pollSecondsRange = 1...3_600
    /// Up to 30 days.
    public static let maxStalenessSecondsRange = 0...2_592_000
    public static let allowedKeys: Set<String> = [
        "postgres", "passwordFile", "hostId", "pollSeconds", "maxStalenessSeconds",
    ]

    public init(postgres: PostgresURL, passwordFile: String? = nil, hostId: Identifier) {
        self.postgres = postgres
        self.passwordFile = passwordFile
        self.hostId = hostId
    }

    /// The machine's hostname, if it is an identifier.
    public static func hostname() -> Identifier? {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return nil }
        let name = String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return Identifier(validating: name)
    }
}
