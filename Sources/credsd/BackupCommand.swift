import ArgumentParser
import CredsStore
import Foundation
import Glibc

/// `credsd backup`: a consistent snapshot of a data directory, taken while the daemon runs.
struct BackupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Copy a data directory consistently (one read transaction, compacted) while credsd runs.",
        discussion:
            "Restore by stopping credsd, putting the copy's data.mdb in an empty 0700 data directory, and starting it with the same master keys. The copy holds sealed credentials: without the master key it reveals metadata only."
    )

    @Option(name: .customLong("data-dir"), help: "The data directory to copy.")
    var dataDir: String = "/var/lib/credsd"

    @Option(name: .long, help: "A new (or empty) directory to write data.mdb into; created 0700.")
    var out: String

    func run() throws {
        // The directory (0700) and LMDB's copy (created 0666 minus the umask: 0600) get their final modes as they
        // are created; nothing is chmod-ed afterwards.
        try OwnerOnlyFile.withPrivateUmask { try copy() }
        print("backup written to \(out)/data.mdb")
    }

    private func copy() throws {
        if mkdir(out, 0o700) != 0 && errno != EEXIST {
            throw StartupError(message: "\(out): \(String(cString: strerror(errno)))")
        }
        guard (try? FileManager.default.contentsOfDirectory(atPath: out))?.isEmpty ?? false else {
            throw StartupError(message: "\(out): not an empty directory")
        }
        guard FileManager.default.fileExists(atPath: dataDir + "/data.mdb") else {
            throw StartupError(message: "\(dataDir): no credsd store here")
        }
        let environment = try startup { try LMDBEnvironment(directory: dataDir) }
        try startup { try environment.copy(to: out) }
    }
}
