import Glibc

/// SPEC 7: a secret file others may read stops startup (and a reload) naming the file; one its group may read is
/// a warning, logged and listed in `health.problems`. Write access counts the same way: whoever may replace a
/// master key file chooses the key new credentials are sealed with.
enum SecretFilePermissions {
    /// Throws naming the key and file when others may read or write it; returns a warning when its group may.
    /// A file that cannot be examined returns nil: reading it reports the problem.
    static func check(path: String, key: String) throws(ConfigError) -> SecretFileWarning? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        let mode = UInt32(info.st_mode) & 0o777
        if mode & 0o006 != 0 {
            throw ConfigError(
                key: key,
                problem: "\(path): readable or writable by others (mode \(octal(mode))); run chmod o-rwx on it"
            )
        }
        if mode & 0o060 != 0 { return SecretFileWarning(key: key, path: path, mode: mode) }
        return nil
    }

    static func octal(_ mode: UInt32) -> String {
        let digits = String(mode, radix: 8)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}

/// A secret file its group may read or write: credsd runs, and says so.
public struct SecretFileWarning: Sendable, Equatable, CustomStringConvertible {
    /// The configuration key that names the file, e.g. `builtin.gemini`.
    public let key: String
    public let path: String
    /// Permission bits, e.g. `0o640`.
    public let mode: UInt32

    /// The mode in octal, e.g. `0640`.
    public var modeText: String { SecretFilePermissions.octal(mode) }

    public var description: String {
        "secret file \(path) (\(key)) is accessible to its group (mode \(modeText)); run chmod g-rwx on it"
    }
}
