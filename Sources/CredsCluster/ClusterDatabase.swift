public import CredsCore
public import CredsCrypto
public import CredsProtocol
public import Logging
import NIOCore
import NIOSSL
public import PostgresNIO

/// The cluster's PostgreSQL, reached as `[cluster]` says: a Unix socket or TCP, TLS per `sslmode` (the system
/// trust store for `verify-ca` and `verify-full`), the password from `passwordFile`.
///
/// postgres-nio takes the password as a `String`, so for each connection attempt it is copied out of guarded
/// memory into ordinary Swift memory, which cannot be wiped; it is never logged or put in an error.
public struct ClusterDatabase: Sendable {
    public let url: PostgresURL
    public let hostId: Identifier
    private let password: SecretBytes?
    private let logger: Logger
    /// How long a connection attempt may take.
    public var connectTimeout: TimeAmount = .seconds(10)

    public init(url: PostgresURL, hostId: Identifier, password: SecretBytes?, logger: Logger) {
        self.url = url
        self.hostId = hostId
        self.password = password
        self.logger = logger
    }

    public init(config: ClusterConfig, password: SecretBytes?, logger: Logger) {
        self.init(url: config.postgres, hostId: config.hostId, password: password, logger: logger)
    }

    /// A new connection; the caller closes it.
    public func connect() async throws(ClusterError) -> PostgresConnection {
        do {
            return try await PostgresConnection.connect(configuration: try configuration(), id: 1, logger: logger)
        } catch {
            throw ClusterError(error, url: url)
        }
    }

    /// Runs `body` on a new connection, closed afterwards; every failure is a `ClusterError`.
    public func withConnection<Result: Sendable>(
        _ body: (PostgresConnection) async throws -> Result
    ) async throws(ClusterError) -> Result {
        let connection = try await connect()
        do {
            let result = try await body(connection)
            try? await connection.close()
            return result
        } catch {
            try? await connection.close()
            throw ClusterError(error, url: url)
        }
    }

    /// A pool of at most `maximumConnections` for writes (the caller runs it with `run()`).
    public func makeClient(maximumConnections: Int = 4) -> PostgresClient {
        let secret = password.map { bytes in bytes.withUnsafeBytes { String(decoding: $0, as: UTF8.self) } }
        var configuration: PostgresClient.Configuration
        switch url.endpoint {
        case .unixSocket:
            configuration = .init(
                unixSocketPath: url.socketPath ?? "", username: url.user, password: secret, database: url.database)
        case .tcp(let host, let port):
            configuration = .init(
                host: host, port: port, username: url.user, password: secret, database: url.database,
                tls: url.sslMode == .disable ? .disable : .require(tlsConfiguration()))
        }
        configuration.options.connectTimeout = .seconds(connectTimeout.nanoseconds / 1_000_000_000)
        configuration.options.minimumConnections = 0
        configuration.options.maximumConnections = maximumConnections
        configuration.options.additionalStartupParameters = [("application_name", "credsd-\(hostId.text)")]
        return PostgresClient(configuration: configuration, backgroundLogger: logger)
    }

    private func configuration() throws -> PostgresConnection.Configuration {
        let secret = password.map { bytes in bytes.withUnsafeBytes { String(decoding: $0, as: UTF8.self) } }
        var configuration: PostgresConnection.Configuration
        switch url.endpoint {
        case .unixSocket:
            configuration = .init(
                unixSocketPath: url.socketPath ?? "", username: url.user, password: secret, database: url.database)
        case .tcp(let host, let port):
            configuration = .init(
                host: host, port: port, username: url.user, password: secret, database: url.database,
                tls: try tls())
        }
        configuration.options.connectTimeout = connectTimeout
        configuration.options.additionalStartupParameters = [("application_name", "credsd-\(hostId.text)")]
        return configuration
    }

    private func tls() throws -> PostgresConnection.Configuration.TLS {
        guard url.sslMode != .disable else { return .disable }
        return .require(try NIOSSLContext(configuration: tlsConfiguration()))
    }

    /// The TLS settings `sslmode` asks for (callers check `.disable` first).
    private func tlsConfiguration() -> TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        switch url.sslMode {
        case .disable, .require:
            // libpq's `require`: encrypted, certificate not checked.
            tls.certificateVerification = .none
        case .verifyCA:
            tls.certificateVerification = .noHostnameVerification
        case .verifyFull:
            tls.certificateVerification = .fullVerification
        }
        return tls
    }
}
