public import CredsCore
import Glibc
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO

/// A cluster database failure: names the URL (which never holds a password) and the cause, never a secret.
public struct ClusterError: Error, Sendable, CustomStringConvertible {
    public enum Code: Sendable, Equatable {
        /// No connection: nothing listens, the host is unknown, the connection broke.
        case unreachable
        /// The server refused the user or password.
        case authentication
        /// TLS could not be set up or the certificate was refused.
        case tls
        /// The schema is newer than this build knows.
        case schemaTooNew
        /// The server answered a statement with an error.
        case server
    }

    public let code: Code
    /// The database, as its canonical URL.
    public let url: String
    public let problem: String

    public init(code: Code, url: PostgresURL, problem: String) {
        self.code = code
        self.url = url.description
        self.problem = problem
    }

    public var description: String { "\(url): \(problem)" }

    /// Classifies an error postgres-nio, NIO or NIOSSL threw. PostgreSQL's own messages never hold a password;
    /// postgres-nio's `PSQLError.description` hides everything, so the fields are read one by one.
    init(_ error: any Error, url: PostgresURL) {
        if let error = error as? ClusterError {
            self = error
            return
        }
        if let error = error as? PSQLError {
            self.init(psql: error, url: url)
            return
        }
        switch error {
        case let error as SchemaTooNew:
            self.init(code: .schemaTooNew, url: url, problem: error.description)
        case is NIOSSLError, is BoringSSLError:
            self.init(code: .tls, url: url, problem: "TLS failed: \(error)")
        case is IOError, is NIOConnectionError, is ChannelError:
            self.init(code: .unreachable, url: url, problem: "cannot connect: \(Self.cause(error))")
        default:
            // Not a connection failure: what the caller's work threw (a feed hole, say), said as it is.
            self.init(code: .server, url: url, problem: "\(error)")
        }
    }

    private init(psql error: PSQLError, url: PostgresURL) {
        switch error.code {
        case .server:
            let state = error.serverInfo?[.sqlState] ?? "?????"
            let message = error.serverInfo?[.message] ?? "an error"
            let code: Code = state.hasPrefix("28") ? .authentication : .server
            self.init(code: code, url: url, problem: "the server answered: \(message) (SQLSTATE \(state))")
        case .authMechanismRequiresPassword:
            self.init(
                code: .authentication, url: url,
                problem: "the server asks for a password: set [cluster] passwordFile")
        case .sslUnsupported:
            self.init(
                code: .tls, url: url,
                problem: "the server does not offer TLS (sslmode=\(url.sslMode.rawValue))")
        case .failedToAddSSLHandler, .receivedUnencryptedDataAfterSSLRequest:
            self.init(code: .tls, url: url, problem: "TLS failed: \(error.code)")
        case .connectionError:
            if let underlying = error.underlying {
                if underlying is NIOSSLError || underlying is BoringSSLError {
                    self.init(code: .tls, url: url, problem: "TLS failed: \(underlying)")
                } else {
                    self.init(code: .unreachable, url: url, problem: "cannot connect: \(Self.cause(underlying))")
                }
            } else {
                self.init(code: .unreachable, url: url, problem: "cannot connect")
            }
        case .serverClosedConnection, .uncleanShutdown, .clientClosedConnection:
            let cause = error.underlying.map { ": \(Self.cause($0))" } ?? ""
            self.init(code: .unreachable, url: url, problem: "the connection closed\(cause)")
        default:
            self.init(code: .server, url: url, problem: "\(error.code)")
        }
    }

    /// A system error as its `strerror` text; NIO's descriptions name the call and repeat themselves.
    private static func cause(_ error: any Error) -> String {
        switch error {
        case let error as IOError:
            return "\(String(cString: strerror(error.errnoCode))) (errno \(error.errnoCode))"
        case let error as NIOConnectionError:
            if let failure = error.connectionErrors.first { return "\(failure.target): \(cause(failure.error))" }
            if let resolution = error.dnsAAAAError ?? error.dnsAError {
                return "cannot resolve \(error.host): \(resolution)"
            }
            return "\(error)"
        default:
            return "\(error)"
        }
    }
}
