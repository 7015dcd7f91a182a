import ArgumentParser
import CredsCrypto
import Glibc

/// `credsd keygen`: a new master key, base64 of 32 random bytes.
struct KeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Print a new master key, or write it to a new file with mode 0600."
    )

    @Option(name: .long, help: "Write the key to this file (mode 0600); an existing file is never overwritten.")
    var out: String?

    func run() throws {
        let line = MasterKey.generate().base64Text() + "\n"
        guard let out else {
            print(line, terminator: "")
            return
        }
        let fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw StartupError(message: "\(out): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        fchmod(fd, 0o600)
        let bytes = Array(line.utf8)
        guard write(fd, bytes, bytes.count) == bytes.count, fsync(fd) == 0 else {
            throw StartupError(message: "\(out): \(String(cString: strerror(errno)))")
        }
    }
}
