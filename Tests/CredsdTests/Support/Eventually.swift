import Foundation

/// Not there yet (for `eventually`).
struct Pending: Error {}

/// Calls `body` until it does not throw, for up to `seconds`, and returns its value; rethrows its last error after
/// that. For what another host or the daemon's own loops do in their own time (replication, reconnects). The default
/// cap is a bound, not a wait: CI runs a dozen PostgreSQL servers and their daemons on 2 cores, where 5 s was seen
/// to be too short for a reconnect or a replication round.
@discardableResult
func eventually<Value>(within seconds: Double = 15, _ body: () throws -> Value) throws -> Value {
    let deadline = Date().addingTimeInterval(seconds)
    while true {
        do {
            return try body()
        } catch {
            if Date() > deadline { throw error }
            usleep(2_000)
        }
    }
}

/// Waits until `host`'s replica lists `count` members of `workspace` (a membership written on another host).
func awaitMembers(_ host: DaemonFixture, count: Int = 1, workspace: String = "ws1") throws {
    try eventually {
        let members = try host.adminCall("members.list", ["workspaceId": .string(workspace)])["members"]
        guard members?.arrayValue?.count == count else { throw Pending() }
    }
}

/// Waits until `host`'s health names the cluster phase `state` (`disconnected` once the database is stopped,
/// `connected` once it is back). The cap is generous: on a loaded 2-core machine with a dozen PostgreSQL servers and
/// their daemons, noticing a stopped server was measured past 5 s. A timeout carries the daemon's log.
func awaitClusterState(_ host: DaemonFixture, _ state: String, within seconds: Double = 30) throws {
    let started = Date()
    do {
        try eventually(within: seconds) {
            guard try host.adminCall("health")["cluster"]?["state"] == .string(state) else { throw Pending() }
        }
    } catch {
        let health = (try? host.adminCall("health")).map { "\($0)" } ?? "no answer"
        throw ClusterStateNotReached(
            description:
                "cluster state \(state) not reached in \(Date().timeIntervalSince(started)) s (\(error)); health: "
                + "\(health)\ndaemon log:\n\(host.daemonLog.suffix(6000))")
    }
}

/// `awaitClusterState` timed out.
struct ClusterStateNotReached: Error, CustomStringConvertible {
    let description: String
}
