import Foundation
import Testing

/// `[limits] listenBacklog`: the queue of connections the kernel holds for the daemon before it accepts them.
///
/// Measured without racing the daemon: it is stopped (SIGSTOP) so that it accepts nothing, and non-blocking
/// connects fill the queue until the kernel answers EAGAIN.
@Suite("listen backlog")
struct ListenBacklogTests {
    static let hasSS = FileManager.default.isExecutableFile(atPath: "/usr/bin/ss")
    static let hasSocketActivate = FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-socket-activate")

    static var somaxconn: Int {
        Int(
            (try? String(contentsOfFile: "/proc/sys/net/core/somaxconn", encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 4096
    }

    /// Stops `pid` and waits until every thread of it is stopped.
    private func stop(_ pid: Int32) {
        kill(pid, SIGSTOP)
        for _ in 0..<500 {
            let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
            let stopped = tasks.allSatisfy { task in
                let stat = (try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/stat", encoding: .utf8)) ?? ""
                // The state follows the command name in parentheses: "pid (comm) T ...".
                guard let close = stat.lastIndex(of: ")") else { return false }
                return stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).hasPrefix("T")
            }
            if !tasks.isEmpty && stopped { return }
            usleep(10_000)
        }
    }

    /// Opens non-blocking connections to `path` until one fails (or `limit` succeed); returns the open descriptors
    /// and the errno of the connect that failed.
    private func fill(_ path: String, limit: Int) -> (fds: [Int32], failure: Int32?) {
        var fds: [Int32] = []
        let address = UnixAddress(path)
        while fds.count < limit {
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            guard fd >= 0 else { return (fds, errno) }
            if address.connect(fd) != 0 {
                let code = errno
                close(fd)
                return (fds, code)
            }
            fds.append(fd)
        }
        return (fds, nil)
    }

    /// The backlog `ss -xl` shows (Send-Q) for the listening socket at `path`.
    private func ssBacklog(_ path: String) throws -> Int? {
        let result = try ProcessResult.run("/usr/bin/ss", ["-xlH"])
        for line in result.stdout.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if fields.count >= 5, fields[4] == Substring(path) { return Int(fields[3]) }
        }
        return nil
    }

    @Test("listenBacklog = 300: a stopped daemon's sockets queue 300 connections each, all served after SIGCONT")
    func configuredBacklogHolds() throws {
        let daemon = try DaemonFixture(mode: .process, configExtra: "[limits]\nlistenBacklog = 300\n")
        #expect(daemon.waitForLog("listen.backlog=resolve=300,admin=300"))
        Thread.sleep(forTimeInterval: 0.3)  // the fixture's readiness probes are accepted and closed
        let pid = try #require(daemon.pid)
        stop(pid)
        var open: [Int32] = []
        defer {
            kill(pid, SIGCONT)
            for fd in open { close(fd) }
        }
        for path in [daemon.resolveSocket, daemon.adminSocket] {
            let (fds, failure) = fill(path, limit: 2000)
            open += fds
            // Linux queues backlog + 1 on a Unix socket; before the fix NIO's 128 gave 129.
            #expect(fds.count >= 300, "\(path): \(fds.count) connections queued")
            #expect(fds.count <= 301, "\(path): \(fds.count) connections queued; the backlog is not the configured one")
            #expect(failure == EAGAIN, "\(path): connect failed with errno \(failure.map(String.init) ?? "none")")
        }
        kill(pid, SIGCONT)
        // The daemon accepts what waited and serves it: a queued connection gets its answer.
        let queued = try #require(open.last)
        var frame = Array(#"{"jsonrpc":"2.0","id":1,"method":"health"}"#.utf8)
        frame = [0, 0, 0, UInt8(frame.count)] + frame
        let flags = fcntl(queued, F_GETFL)
        _ = fcntl(queued, F_SETFL, flags & ~Int32(O_NONBLOCK))
        var timeout = timeval(tv_sec: 20, tv_usec: 0)
        setsockopt(queued, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        #expect(send(queued, frame, frame.count, 0) == frame.count)
        var answer = [UInt8](repeating: 0, count: 4096)
        let received = recv(queued, &answer, answer.count, 0)
        #expect(received > 4)
        #expect(String(decoding: answer.prefix(max(received, 0)), as: UTF8.self).contains("\"ok\""))
        for fd in open { close(fd) }
        open = []
        #expect(try daemon.resolveCall("health")["status"] == "ok")
        #expect(try daemon.adminCall("health")["status"] == "ok")
    }

    @Test("a listenBacklog above net.core.somaxconn is capped to it, and the value in force is logged")
    func cappedBySomaxconn() throws {
        let somaxconn = Self.somaxconn
        let daemon = try DaemonFixture(configExtra: "[limits]\nlistenBacklog = \(somaxconn + 1000)\n")
        #expect(daemon.waitForLog("listen backlog capped by net.core.somaxconn"))
        #expect(daemon.daemonLog.contains("limits.listenBacklog=\(somaxconn + 1000)"))
        #expect(daemon.waitForLog("listen.backlog=resolve=\(somaxconn),admin=\(somaxconn)"))
        if Self.hasSS {
            #expect(try ssBacklog(daemon.resolveSocket) == somaxconn)
            #expect(try ssBacklog(daemon.adminSocket) == somaxconn)
        }
        #expect(try daemon.resolveCall("health")["status"] == "ok")
    }

    @Test("the default backlog is 4096 (capped by somaxconn), not NIO's 128", .enabled(if: hasSS))
    func defaultBacklog() throws {
        let daemon = try DaemonFixture()
        let expected = min(4096, Self.somaxconn)
        #expect(try ssBacklog(daemon.resolveSocket) == expected)
        #expect(try ssBacklog(daemon.adminSocket) == expected)
        #expect(daemon.waitForLog("listen.backlog=resolve=\(expected),admin=\(expected)"))
    }

    @Test(
        "socket activation keeps the backlog systemd gave the sockets, not listenBacklog nor NIO's 128",
        .enabled(if: hasSocketActivate))
    func activatedSocketsKeepTheirBacklog() throws {
        // No `Process` may be waited on while this daemon runs: systemd-socket-activate closes the descriptor
        // Foundation watches for the child's exit, so Foundation's reaper blocks on this pid until it exits.
        // The backlog is therefore measured by filling the queue, not with ss.
        var limit = rlimit()
        getrlimit(RLIMIT_NOFILE_VALUE, &limit)
        if limit.rlim_cur < 10_000 {
            limit.rlim_cur = min(10_000, limit.rlim_max)
            setrlimit(RLIMIT_NOFILE_VALUE, &limit)
        }
        let directory = TemporaryDirectory()
        let resolve = directory.file("activated-resolve.sock")
        let admin = directory.file("activated-admin.sock")
        let daemon = try DaemonFixture(
            mode: .process,
            configExtra: "[limits]\nlistenBacklog = 300\nmaxConnections = 10000\n",
            launcher: ["/usr/bin/systemd-socket-activate", "-l", resolve, "-l", admin, "--fdname=resolve:admin"],
            activatedSockets: (resolve, admin)
        )
        defer { daemon.stop() }
        // systemd-socket-activate listens with SOMAXCONN (4096), which the kernel caps at net.core.somaxconn.
        let given = min(4096, Self.somaxconn)
        #expect(daemon.waitForLog("listen.backlog=resolve=\(given),admin=\(given)"))
        Thread.sleep(forTimeInterval: 0.3)  // the fixture's readiness probes are accepted and closed
        let pid = try #require(daemon.pid)
        stop(pid)
        let (fds, failure) = fill(resolve, limit: given + 100)
        kill(pid, SIGCONT)
        for fd in fds { close(fd) }
        #expect(fds.count >= given, "\(fds.count) connections queued")
        #expect(fds.count <= given + 1, "\(fds.count) connections queued")
        #expect(failure == EAGAIN, "connect failed with errno \(failure.map(String.init) ?? "none")")
        #expect(try daemon.resolveCall("health")["status"] == "ok")
    }

    @Test(
        "a malformed or unknown listen backlog stops startup naming the key",
        arguments: [
            "listenBacklog = 0", "listenBacklog = \"4096\"", "listenBacklog = 3000000000", "listenBacklogs = 10",
        ])
    func malformed(line: String) throws {
        let directory = TemporaryDirectory()
        let config = directory.write(
            "credsd.toml",
            """
            dataDir = "\(directory.file("d"))"
            [sockets]
            resolve = "\(directory.file("r.sock"))"
            admin = "\(directory.file("a.sock"))"
            [limits]
            \(line)
            """)
        let checked = try ProcessResult.run(Binaries.credsd, ["check-config", "--config", config])
        #expect(checked.status == 1)
        if line.hasPrefix("listenBacklogs") {
            #expect(checked.stderr.contains("limits.listenBacklogs: unknown key"))
        } else {
            #expect(checked.stderr.contains("limits.listenBacklog: must be an integer"), "\(checked.stderr)")
        }
        let served = try ProcessResult.run(Binaries.credsd, ["serve", "--config", config])
        #expect(served.status != 0)
        #expect(served.stderr.contains("limits.listenBacklog"))
        #expect(!FileManager.default.fileExists(atPath: directory.file("r.sock")))
    }
}

/// `RLIMIT_NOFILE` as the type `getrlimit` takes on Glibc.
private let RLIMIT_NOFILE_VALUE = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
