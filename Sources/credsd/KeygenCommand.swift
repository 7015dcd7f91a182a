import ArgumentParser
import CredsCrypto

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
        try OwnerOnlyFile.create(out, bytes: Array(line.utf8))
    }
}
