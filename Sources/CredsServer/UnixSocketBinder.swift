internal import CCredsSystem
import Glibc
import Synchronization

/// Creates a listening Unix stream socket whose file has its final mode from the moment it exists.
///
/// The mode is applied through the umask around `bind`, so there is no window in which the file is wider.
/// A stale socket file (nobody listening) is replaced; a live one or a non-socket file is an error.
enum UnixSocketBinder {
    /// Held while the process's umask is narrowed: two binds that overlapped could leave one narrowed mask behind.
    private static let processUmask = Mutex(())

    /// `privateUmask` narrows the umask on a thread of its own instead of the process's (for a daemon that shares
    /// its process with other code, which may create files meanwhile); where that is refused, the process's.
    static func bind(
        path: String, mode: UInt32, backlog: Int32 = 511, privateUmask: Bool = false
    ) throws(SocketSetupError) -> Int32 {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard !pathBytes.isEmpty, pathBytes.count < capacity else {
            throw SocketSetupError(path: path, problem: "the path must be 1 to \(capacity - 1) bytes long")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            buffer.copyBytes(from: pathBytes)
            buffer[pathBytes.count] = 0
        }
        try removeStale(path: path, address: address)

        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SocketSetupError(path: path, errno: errno) }
        let mask = mode_t(~mode & 0o777)
        var (bound, bindErrno) = privateUmask ? bindWithPrivateUmask(fd, address, mask) : (-2, 0)
        if bound == -2 { (bound, bindErrno) = bindWithProcessUmask(fd, address, mask) }
        guard bound == 0 else {
            close(fd)
            throw SocketSetupError(path: path, errno: bindErrno)
        }
        guard chmod(path, mode_t(mode)) == 0, listen(fd, backlog) == 0 else {
            let code = errno
            close(fd)
            unlink(path)
            throw SocketSetupError(path: path, errno: code)
        }
        return fd
    }

    /// `bind` with the process's umask set to `mask` around it. Returns bind's result and errno.
    private static func bindWithProcessUmask(_ fd: Int32, _ address: sockaddr_un, _ mask: mode_t) -> (Int32, Int32) {
        processUmask.withLock { _ in
            var target = address
            let previousMask = umask(mask)
            let bound = withUnsafePointer(to: &target) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
            let bindErrno = errno
            umask(previousMask)
            return (bound, bindErrno)
        }
    }

    /// `bind` on a thread whose umask alone is `mask`; -2 when no such thread could be had (nothing was bound).
    private static func bindWithPrivateUmask(_ fd: Int32, _ address: sockaddr_un, _ mask: mode_t) -> (Int32, Int32) {
        var target = address
        let bound = withUnsafePointer(to: &target) {
            credsd_bind_with_private_umask(fd, $0, UInt32(MemoryLayout<sockaddr_un>.size), UInt32(mask))
        }
        return (bound, errno)
    }

    private static func removeStale(path: String, address: sockaddr_un) throws(SocketSetupError) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        guard (info.st_mode & S_IFMT) == S_IFSOCK else {
            throw SocketSetupError(path: path, problem: "exists and is not a socket; refusing to replace it")
        }
        let probe = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard probe >= 0 else { throw SocketSetupError(path: path, errno: errno) }
        defer { close(probe) }
        var target = address
        let connected = withUnsafePointer(to: &target) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(probe, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        if connected == 0 {
            throw SocketSetupError(path: path, problem: "another process is listening on this socket")
        }
        unlink(path)
    }
}

/// A socket that could not be set up at startup.
public struct SocketSetupError: Error, Sendable, CustomStringConvertible {
    public let path: String
    public let problem: String

    init(path: String, problem: String) {
        self.path = path
        self.problem = problem
    }

    init(path: String, errno code: Int32) {
        self.init(path: path, problem: String(cString: strerror(code)))
    }

    public var description: String { "\(path): \(problem)" }
}
