import Foundation

/// A small tmpfs mounted on a fresh directory (root only), for filling a filesystem on purpose.
final class TmpfsMount: @unchecked Sendable {
    let directory = TemporaryDirectory()
    var path: String { directory.path }

    init(sizeKiB: Int) throws {
        let result = try ProcessResult.run(
            "/bin/mount", ["-t", "tmpfs", "-o", "size=\(sizeKiB)k,mode=0700", "tmpfs", directory.path])
        guard result.status == 0 else { throw TmpfsMountError.mountFailed(result.stderr) }
    }

    deinit {
        _ = try? ProcessResult.run("/bin/umount", ["-l", directory.path])
    }

    /// Whether this process may mount a tmpfs (root, and mounting allowed in this container).
    static let available: Bool = {
        guard getuid() == 0 else { return false }
        return (try? TmpfsMount(sizeKiB: 64)) != nil
    }()

    /// Writes a file until the filesystem refuses more; returns its path.
    @discardableResult
    func fill(named name: String = "filler") -> String {
        let target = "\(path)/\(name)"
        let fd = open(target, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        precondition(fd >= 0, "cannot create \(target)")
        defer { close(fd) }
        let chunk = [UInt8](repeating: 0x5A, count: 4096)
        while chunk.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) > 0 {}
        return target
    }
}

enum TmpfsMountError: Error {
    case mountFailed(String)
}
