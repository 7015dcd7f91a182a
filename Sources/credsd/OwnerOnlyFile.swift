import Glibc

/// Files credsd writes for the operator (keygen, backups) are created with their final mode, never chmod-ed after
/// the fact (SPEC 7): they are made while the umask is 0077, so `open`'s 0600 and `mkdir`'s 0700 come out exact
/// whatever umask credsd was started with.
enum OwnerOnlyFile {
    /// Runs `body` with umask 0077 and puts the previous umask back.
    static func withPrivateUmask<Value>(_ body: () throws -> Value) rethrows -> Value {
        let previous = umask(0o077)
        defer { umask(previous) }
        return try body()
    }

    /// Creates `path`, which must not exist (not even as a symbolic link), mode 0600, with `bytes`, flushed to disk.
    static func create(_ path: String, bytes: [UInt8]) throws {
        let fd = withPrivateUmask { open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600) }
        guard fd >= 0 else { throw StartupError(message: "\(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var written = 0
        while written < bytes.count {
            let count = bytes[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { throw StartupError(message: "\(path): \(String(cString: strerror(errno)))") }
            written += count
        }
        guard fsync(fd) == 0 else { throw StartupError(message: "\(path): \(String(cString: strerror(errno)))") }
    }
}
