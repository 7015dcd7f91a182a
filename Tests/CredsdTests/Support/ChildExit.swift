import Foundation

/// Waiting for a child process without trusting Foundation alone to notice its exit.
///
/// swift-corelibs-foundation learns that a child exited when a socket the child inherited closes
/// (swift-corelibs-foundation issue 4795). If any other process holds that descriptor, `waitUntilExit()` never
/// returns: a full `make test` once hung for 30 minutes on a `kill -9`ed daemon left as a zombie. So this also
/// watches `/proc`, and reaps a child that has been a zombie for a while itself.
enum ChildExit {
    /// The child's exit status (the signal number if a signal ended it), as `Process.terminationStatus` says.
    static func wait(_ process: Process) -> Int32 {
        let pid = process.processIdentifier
        var zombieSince: Date?
        while process.isRunning {
            if isZombie(pid) {
                let since = zombieSince ?? Date()
                zombieSince = since
                if Date().timeIntervalSince(since) > 1 {
                    var status: Int32 = 0
                    if waitpid(pid, &status, WNOHANG) == pid { return decode(status) }
                }
            } else if kill(pid, 0) != 0 && errno == ESRCH {
                break
            }
            usleep(5_000)
        }
        // Gone (ESRCH): only Foundation reaps it besides us, and it clears isRunning on its own thread, a moment later.
        // Returning at once can give -1 for a command that exited normally.
        for _ in 0..<1_000 where process.isRunning { usleep(5_000) }
        return process.isRunning ? -1 : process.terminationStatus
    }

    private static func isZombie(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return false }
        return stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).hasPrefix("Z")
    }

    private static func decode(_ status: Int32) -> Int32 {
        let signal = status & 0x7F
        return signal == 0 ? (status >> 8) & 0xFF : signal
    }
}
