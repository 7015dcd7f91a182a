import ArgumentParser
import Glibc

/// Writes secrets to new files created with their final mode, 0600 (SPEC 7): the file is opened with
/// `O_CREAT | O_EXCL` while the umask is 0077, never chmod-ed afterwards, and never replaces an existing file.
enum SecretOutput {
    static func create(_ path: String, text: String) throws {
        let previous = umask(0o077)
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        umask(previous)
        guard fd >= 0 else { throw ValidationError("cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        var written = 0
        while written < bytes.count {
            let count = bytes[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { throw ValidationError("cannot write \(path): \(String(cString: strerror(errno)))") }
            written += count
        }
        guard fsync(fd) == 0 else { throw ValidationError("cannot write \(path): \(String(cString: strerror(errno)))") }
    }
}
