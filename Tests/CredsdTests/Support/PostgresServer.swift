import Foundation

/// A throwaway PostgreSQL (Debian's `postgresql` package): `initdb` in a temporary directory, Unix socket only
/// (`listen_addresses = ''`, the socket in that directory), a role `credsd` with a random password in a 0600 file
/// and a database `credsd`. Stopped and removed on deinit. With `tls: true` it also listens on 127.0.0.1 (a free
/// port) for TLS connections only, with a self-signed certificate for `localhost` that no trust store holds.
///
/// PostgreSQL refuses to run as root, so under root the server runs as the `postgres` system user (`runuser`),
/// in a directory that user owns; otherwise as the current user. Its superuser logs in by peer authentication;
/// `credsd` needs its password (scram-sha-256).
final class PostgresServer: @unchecked Sendable {
    /// Where `initdb`, `pg_ctl` and `psql` are.
    static let binDirectory: String = {
        if let override = ProcessInfo.processInfo.environment["CREDSD_PG_BIN_DIR"] { return override }
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        let newest = versions.compactMap(Int.init).sorted().last.map { "/usr/lib/postgresql/\($0)/bin" }
        return newest ?? "/usr/lib/postgresql/15/bin"
    }()

    /// The directory the server owns: `data/`, `server.log` and the socket.
    let directory: String
    let role = "credsd"
    let database = "credsd"
    let password: String
    /// The password in a 0600 file owned by the test's user, for `[cluster] passwordFile`.
    let passwordFile: String
    private let secrets = TemporaryDirectory()
    /// `postgres` when the tests run as root.
    private let runAs: String?
    private let superuser: String

    /// The TCP port when started with `tls: true`.
    let tcpPort: Int?

    /// The port: the socket's name, and the TCP port with `tls: true`.
    var port: Int { tcpPort ?? 5432 }

    /// The `[cluster] postgres` URL of the `credsd` database, over the socket.
    var url: String { "postgresql://\(role)@/\(database)?host=\(directory)" + (tcpPort.map { "&port=\($0)" } ?? "") }

    /// The URL over TCP on 127.0.0.1 with `sslmode` (servers started with `tls: true`).
    func tcpURL(sslmode: String) -> String {
        "postgresql://\(role)@127.0.0.1:\(tcpPort ?? 0)/\(database)?sslmode=\(sslmode)"
    }

    /// Starts a server; throws with initdb's or pg_ctl's output when it cannot.
    init(tls: Bool = false) throws {
        tcpPort = tls ? try Self.freePort() : nil
        var template = Array("/tmp/credsd-pg-XXXXXX".utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
            throw PostgresServerError(step: "mkdtemp", output: String(cString: strerror(errno)))
        }
        directory = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if geteuid() == 0 {
            guard let user = getpwnam("postgres") else {
                throw PostgresServerError(step: "getpwnam", output: "no postgres user (install Debian's postgresql)")
            }
            runAs = "postgres"
            superuser = "postgres"
            guard chown(directory, user.pointee.pw_uid, user.pointee.pw_gid) == 0 else {
                throw PostgresServerError(step: "chown", output: String(cString: strerror(errno)))
            }
        } else {
            runAs = nil
            superuser = String(cString: getpwuid(geteuid()).pointee.pw_name)
        }
        password = (0..<24).map { _ in String(UInt8.random(in: 0...15), radix: 16) }.joined()
        passwordFile = secrets.write("pg-password", password + "\n", mode: 0o600)
        do {
            try start()
        } catch {
            removeDirectory()
            throw error
        }
    }

    deinit {
        _ = try? run(Self.binDirectory + "/pg_ctl", ["-D", directory + "/data", "-m", "immediate", "-w", "stop"])
        removeDirectory()
    }

    /// Runs `sql` as the superuser in `database` (default: credsd's); returns psql's unaligned, tuples-only output.
    @discardableResult
    func psql(_ sql: String, database name: String? = nil) throws -> String {
        try run(
            Self.binDirectory + "/psql",
            [
                "-h", directory, "-p", "\(port)", "-U", superuser, "-d", name ?? database, "-X", "-q", "-A", "-t", "-v",
                "ON_ERROR_STOP=1", "-f", "-",
            ],
            input: sql
        ).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private func start() throws {
        let data = directory + "/data"
        try run(Self.binDirectory + "/initdb", ["-D", data, "-U", superuser, "--no-sync", "-E", "UTF8"])
        try writeOwned(
            data + "/pg_hba.conf",
            """
            local all \(superuser) peer
            local all all scram-sha-256
            hostssl all all 127.0.0.1/32 scram-sha-256

            """)
        var listen = "listen_addresses = ''"
        if let tcpPort {
            try run(
                "/usr/bin/openssl",
                [
                    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-days", "2",
                    "-keyout", data + "/server.key", "-out", data + "/server.crt",
                ])
            chmod(data + "/server.key", 0o600)
            listen = "listen_addresses = '127.0.0.1'\nssl = on\nport = \(tcpPort)"
        } else {
            listen += "\nport = 5432"
        }
        let settings = """

            \(listen)
            unix_socket_directories = '\(directory)'
            # No fsync (the machine does not crash in a test), but commits are in the WAL when acknowledged: a
            # `pg_ctl stop -m immediate` must not lose what credsd was told had committed.
            fsync = off
            synchronous_commit = on
            full_page_writes = off
            shared_buffers = 16MB
            max_connections = 40

            """
        let conf = data + "/postgresql.conf"
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: conf))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(settings.utf8))
        try handle.close()
        try run(
            Self.binDirectory + "/pg_ctl", ["-D", data, "-l", directory + "/server.log", "-w", "-t", "60", "start"])
        try psql(
            "CREATE ROLE \(role) LOGIN PASSWORD '\(password)';\nCREATE DATABASE \(database) OWNER \(role);\n",
            database: "postgres")
    }

    /// Stops the server with `pg_ctl stop -m mode` (`fast`: clients are disconnected; `immediate`: as a crash).
    func stop(mode: String) throws {
        try run(Self.binDirectory + "/pg_ctl", ["-D", directory + "/data", "-m", mode, "-w", "-t", "60", "stop"])
    }

    /// Starts the stopped server again, with its data.
    func startAgain() throws {
        do {
            try run(
                Self.binDirectory + "/pg_ctl",
                ["-D", directory + "/data", "-l", directory + "/server.log", "-w", "-t", "60", "start"])
        } catch {
            // What the server said is in its log, not in pg_ctl's output.
            let log = (try? String(contentsOfFile: directory + "/server.log", encoding: .utf8)) ?? ""
            throw FixtureError.didNotStart(log: "\(error)\n" + String(log.suffix(2000)))
        }
    }

    /// The postmaster's process id (for SIGSTOP/SIGCONT of the whole server: its backends are its children).
    var postmasterPID: pid_t? {
        let pidFile = (try? String(contentsOfFile: directory + "/data/postmaster.pid", encoding: .utf8)) ?? ""
        return pidFile.split(separator: "\n").first.flatMap { pid_t($0) }
    }

    /// Stops (SIGSTOP) or resumes (SIGCONT) every process of the server, as a frozen machine would: connections
    /// stay open and nothing answers.
    func signalAll(_ signal: Int32) {
        guard let postmaster = postmasterPID else { return }
        var pids = [postmaster]
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for entry in entries {
            guard let pid = pid_t(entry),
                let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { continue }
            // After "pid (comm) state ppid": the parent is the fourth field.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 1, pid_t(fields[1]) == postmaster { pids.append(pid) }
        }
        for pid in pids { kill(pid, signal) }
    }

    /// Writes a file the server's user owns.
    private func writeOwned(_ path: String, _ text: String) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        if runAs != nil, let user = getpwnam("postgres") {
            _ = chown(path, user.pointee.pw_uid, user.pointee.pw_gid)
        }
    }

    /// A TCP port nothing listens on at the moment (the kernel's pick for port 0).
    private static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                bind(fd, generic, length) == 0 && getsockname(fd, generic, &length) == 0
            }
        }
        guard bound else { throw PostgresServerError(step: "bind", output: String(cString: strerror(errno))) }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    private func removeDirectory() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Runs a PostgreSQL program as the server's user, in the server's directory; throws with its output on failure.
    @discardableResult
    private func run(_ executable: String, _ arguments: [String], input: String? = nil) throws -> String {
        let process = Process()
        if let runAs {
            process.executableURL = URL(fileURLWithPath: "/usr/sbin/runuser")
            process.arguments = ["-u", runAs, "--", executable] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
        }
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        var environment = ProcessInfo.processInfo.environment
        environment["LC_ALL"] = "C.UTF-8"
        environment.removeValue(forKey: "PGPASSWORD")
        process.environment = environment
        let output = Pipe()
        let stdin = Pipe()
        process.standardOutput = output
        process.standardError = output
        process.standardInput = stdin
        try process.run()
        if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
        try stdin.fileHandleForWriting.close()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let status = ChildExit.wait(process)
        guard status == 0 else {
            throw PostgresServerError(step: "\(executable) \(arguments.first ?? "")", output: text)
        }
        return text
    }
}

/// A step of starting or driving the test server failed.
struct PostgresServerError: Error, CustomStringConvertible {
    let step: String
    let output: String

    var description: String { "\(step) failed: \(output)" }
}
