import CredsCluster
import CredsCore
import CredsCrypto
import CredsProtocol
import Logging
import PostgresNIO
import Testing

/// `sslmode` over TCP against a real PostgreSQL with TLS (a self-signed certificate, which no trust store holds).
@Suite("cluster database TLS")
struct ClusterTLSTests {
    @Test("require encrypts without checking the certificate, verify-full refuses a self-signed one")
    func sslModes() async throws {
        let server = try PostgresServer(tls: true)
        let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        let password = SecretBytes(copying: Array(server.password.utf8))
        func database(_ sslmode: String) throws -> ClusterDatabase {
            let url = try PostgresURL.parse(server.tcpURL(sslmode: sslmode))
            return ClusterDatabase(
                url: url, hostId: Identifier(stored: "tls-host"), password: password, logger: logger)
        }

        let encrypted = try await database("require").withConnection { connection in
            var ssl = false
            let rows = try await connection.query(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", logger: logger)
            for try await value in rows.decode(Bool.self) { ssl = value }
            return ssl
        }
        #expect(encrypted)

        await #expect {
            try await database("verify-full").withConnection { _ in true }
        } throws: { error in
            (error as? ClusterError)?.code == .tls && "\(error)".contains(server.tcpURL(sslmode: "verify-full"))
        }
        await #expect {
            try await database("disable").withConnection { _ in true }
        } throws: { error in
            (error as? ClusterError)?.code == .authentication && "\(error)".contains("no pg_hba.conf entry")
        }
    }
}
