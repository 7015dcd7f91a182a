import Glibc

/// Reads small secret files straight into guarded memory.
public enum SecretFile {
    /// Largest secret file read.
    public static let maxBytes = 64 * 1024

    /// The file's bytes with surrounding white space removed.
    public static func read(path: String) throws(SecretFileError) -> SecretBytes {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SecretFileError(path: path, errno: errno) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw SecretFileError(path: path, errno: errno) }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw SecretFileError(path: path, problem: "not a regular file")
        }
        let size = Int(info.st_size)
        guard size <= maxBytes else { throw SecretFileError(path: path, problem: "larger than \(maxBytes) bytes") }
        var filled = 0
        let raw = SecretBytes(count: size) { buffer in
            while filled < size {
                let got = Glibc.read(fd, buffer.baseAddress! + filled, size - filled)
                if got < 0 && errno == EINTR { continue }
                if got <= 0 { break }
                filled += got
            }
        }
        return raw.withUnsafeBytes { bytes in
            var start = 0
            var end = filled
            while start < end, isSpace(bytes[start]) { start += 1 }
            while end > start, isSpace(bytes[end - 1]) { end -= 1 }
            return SecretBytes(copying: UnsafeRawBufferPointer(rebasing: bytes[start..<end]))
        }
    }

    private static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09
    }
}

/// A secret file that could not be read; names the path, never the contents.
public struct SecretFileError: Error, Sendable, CustomStringConvertible {
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
