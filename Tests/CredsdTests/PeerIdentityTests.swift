import CredsProtocol
import Foundation
import Testing

/// Runs credsctl as another uid with `setpriv`, to test the sockets' uid allowlists with real processes.
@Suite("peer identity: uid allowlists with processes under other uids")
struct PeerIdentityTests {
    static let canSwitchUser = getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv")

    private func credsctl(as uid: Int, _ arguments: [String], daemon: DaemonFixture) throws -> ProcessResult {
        let copy = daemon.directory.file("credsctl")
        if !FileManager.default.fileExists(atPath: copy) {
            // Copied by cp, not by this process: a child spawned meanwhile by another test could inherit our
            // write descriptor, and exec of the copy then fails with ETXTBSY (seen as setpriv's exit 126).
            let copied = try ProcessResult.run("/bin/cp", [Binaries.credsctl, copy])
            #expect(copied.status == 0, "\(copied.stderr)")
            chmod(copy, 0o755)
        }
        return try ProcessResult.run(
            "/usr/bin/setpriv",
            ["--reuid=\(uid)", "--regid=\(uid)", "--clear-groups", copy] + arguments + ["--json"]
        )
    }

    private func openDaemon(socketsExtra: String) throws -> DaemonFixture {
        let daemon = try DaemonFixture(
            mode: .process,
            configExtra: "[resolve]\nrequireGrant = false\n",
            socketsExtra: "resolveMode = \"0666\"\nadminMode = \"0666\"\n" + socketsExtra,
            builtin: ["fal": "platform-fal"]
        )
        chmod(daemon.directory.path, 0o755)
        return daemon
    }

    @Test(
        "empty allowlists: anyone may resolve, only root and the daemon's uid may administer",
        .enabled(if: canSwitchUser))
    func defaults() throws {
        let daemon = try openDaemon(socketsExtra: "")
        let resolved = try credsctl(
            as: 40001, ["resolve", "--workspace", "ws1", "--provider", "fal", "--socket", daemon.resolveSocket],
            daemon: daemon
        )
        #expect(resolved.status == 0, "\(resolved.stderr)")
        #expect(try JSONValue.parse(Array(resolved.stdout.utf8))["source"] == "built_in")

        let refused = try credsctl(as: 40001, ["health", "--socket", daemon.adminSocket], daemon: daemon)
        #expect(refused.status == 1)
        #expect(try JSONValue.parse(Array(refused.stdout.utf8))["error"]?["data"]?["reason"] == "forbidden")
        #expect(daemon.daemonLog.contains("peer not allowed"))
        #expect(daemon.daemonLog.contains("40001"))
        #expect(try daemon.adminCall("health")["status"] == "ok")
    }

    @Test(
        "listed uids are allowed, others refused, on both sockets; the peer uid reaches the audit",
        .enabled(if: canSwitchUser))
    func allowlists() throws {
        let daemon = try openDaemon(socketsExtra: "resolveAllowUids = [40002]\nadminAllowUids = [40001]\n")
        let adminAllowed = try credsctl(
            as: 40001,
            [
                "members", "set", "--workspace", "ws1", "--principal", "p", "--role", "read", "--socket",
                daemon.adminSocket,
            ],
            daemon: daemon
        )
        #expect(adminAllowed.status == 0, "\(adminAllowed.stderr)")
        let resolveRefused = try credsctl(
            as: 40001, ["resolve", "--workspace", "ws1", "--provider", "fal", "--socket", daemon.resolveSocket],
            daemon: daemon
        )
        #expect(resolveRefused.status == 1)
        #expect(resolveRefused.stdout.contains("forbidden"))
        let resolveAllowed = try credsctl(
            as: 40002, ["resolve", "--workspace", "ws1", "--provider", "fal", "--socket", daemon.resolveSocket],
            daemon: daemon
        )
        #expect(resolveAllowed.status == 0, "\(resolveAllowed.stderr)")
        let adminRefused = try credsctl(as: 40002, ["health", "--socket", daemon.adminSocket], daemon: daemon)
        #expect(adminRefused.status == 1)
        #expect(try daemon.resolveCall("health")["status"] == "ok")

        Thread.sleep(forTimeInterval: 0.2)
        let entries = try daemon.adminCall("audit.list")["entries"]!.arrayValue!
        #expect(entries.first?["method"] == "members.set")
        #expect(entries.first?["peerUid"] == 40001)
        #expect(entries.contains { $0["method"] == "resolve" && $0["peerUid"] == 40002 })
    }
}
