import Glibc

/// Listening sockets handed over by systemd (`LISTEN_FDS`, `LISTEN_FDNAMES`, `LISTEN_PID`), by name.
public struct ActivatedSockets: Sendable {
    /// File descriptors by name (`resolve`, `admin`).
    public let byName: [String: Int32]

    public init(byName: [String: Int32] = [:]) {
        self.byName = byName
    }

    /// Takes the sockets systemd passed to this process and clears the variables, as `sd_listen_fds(1)` does.
    /// Unnamed sockets are taken in the order resolve, admin.
    public static func fromEnvironment() throws(SocketSetupError) -> ActivatedSockets {
        defer {
            unsetenv("LISTEN_PID")
            unsetenv("LISTEN_FDS")
            unsetenv("LISTEN_FDNAMES")
        }
        guard let pidText = getenv("LISTEN_PID").map({ String(cString: $0) }), Int32(pidText) == getpid(),
            let countText = getenv("LISTEN_FDS").map({ String(cString: $0) }), let count = Int32(countText), count > 0
        else {
            return ActivatedSockets()
        }
        let names =
            getenv("LISTEN_FDNAMES").map {
                String(cString: $0).split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            } ?? []
        var byName: [String: Int32] = [:]
        for index in 0..<count {
            let fd = 3 + index
            let name =
                index < names.count && !names[Int(index)].isEmpty && names[Int(index)] != "unknown"
                ? names[Int(index)] : (index == 0 ? "resolve" : "admin")
            guard name == "resolve" || name == "admin" else {
                throw SocketSetupError(
                    path: "LISTEN_FDNAMES", problem: "unexpected socket name \(name); use resolve and admin")
            }
            guard isListeningUnixStream(fd) else {
                throw SocketSetupError(path: "fd \(fd) (\(name))", problem: "not a listening Unix stream socket")
            }
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            byName[name] = fd
        }
        return ActivatedSockets(byName: byName)
    }

    private static func isListeningUnixStream(_ fd: Int32) -> Bool {
        var type: Int32 = 0
        var listening: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) == 0, type == Int32(SOCK_STREAM.rawValue) else {
            return false
        }
        length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &length) == 0, listening == 1 else { return false }
        var address = sockaddr_storage()
        length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return named == 0 && address.ss_family == sa_family_t(AF_UNIX)
    }
}
