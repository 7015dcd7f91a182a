import Foundation

/// Not there yet (for `eventually`).
struct Pending: Error {}

/// Calls `body` until it does not throw, for up to `seconds`, and returns its value; rethrows its last error after
/// that. For what another host or the daemon's own loops do in their own time (replication, reconnects).
@discardableResult
func eventually<Value>(within seconds: Double = 5, _ body: () throws -> Value) throws -> Value {
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
