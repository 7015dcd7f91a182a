import CredsCrypto
import Foundation

/// A cluster on this machine: a real PostgreSQL (initialized with `credsd cluster init`) and `hosts` credsd
/// processes, each with its own sockets and data directory and one shared master key.
///
/// Processes, not in-process daemons: the replica loop runs on Swift's cooperative threads, which the synchronous
/// tests running alongside in this process block (with two cores, all of them), and a host would never sync.
final class ClusterFixture: @unchecked Sendable {
    let server: PostgresServer
    let directory = TemporaryDirectory()
    let keyFile: String
    private(set) var hosts: [DaemonFixture] = []

    init(
        hosts count: Int, mode: DaemonFixture.Mode = .process, pollSeconds: Int = 1, clusterExtra: String = "",
        builtin: [String: String] = [:]
    ) throws {
        server = try PostgresServer()
        keyFile = directory.write("master.key", MasterKey.generate().base64Text() + "\n", mode: 0o600)
        let initConfig = directory.write("init.toml", Self.section(server, hostId: "init", pollSeconds: pollSeconds))
        let migrated = try ProcessResult.run(Binaries.credsd, ["cluster", "init", "--config", initConfig])
        guard migrated.status == 0 else { throw FixtureError.didNotStart(log: migrated.stderr) }
        for index in 0..<count {
            hosts.append(
                try DaemonFixture(
                    mode: mode,
                    configExtra: Self.section(server, hostId: "host-\(index + 1)", pollSeconds: pollSeconds)
                        + "\n" + clusterExtra,
                    builtin: builtin,
                    logLevel: ProcessInfo.processInfo.environment["CREDSD_CLUSTER_LOG_LEVEL"] ?? "info",
                    keyFile: keyFile))
        }
    }

    /// The `[cluster]` section a host of this cluster runs with.
    static func section(_ server: PostgresServer, hostId: String, pollSeconds: Int) -> String {
        """
        [cluster]
        postgres = "\(server.url)"
        passwordFile = "\(server.passwordFile)"
        hostId = "\(hostId)"
        pollSeconds = \(pollSeconds)
        """
    }
}
