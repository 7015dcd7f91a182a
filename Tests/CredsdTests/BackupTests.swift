import CredsClient
import CredsProtocol
import Foundation
import Synchronization
import Testing

@Suite("backup")
struct BackupTests {
    @Test("a backup taken under write load restores to a store that holds every write acknowledged before it began")
    func backupUnderLoad() throws {
        let daemon = try DaemonFixture()
        let acknowledged = Mutex<[(Int, Date)]>([])
        let stop = Mutex(false)
        let socket = daemon.adminSocket
        let writers = (0..<4).map { writer in
            Thread {
                guard let client = try? CredsClient(socketPath: socket) else { return }
                var index = 0
                while !stop.withLock({ $0 }) {
                    let id = writer * 1_000_000 + index
                    if (try? client.call(
                        "members.set", ["workspaceId": "ws-backup", "principal": .string("p\(id)"), "role": "read"]))
                        != nil
                    {
                        acknowledged.withLock { $0.append((id, Date())) }
                    }
                    index += 1
                }
            }
        }
        writers.forEach { $0.start() }
        Thread.sleep(forTimeInterval: 0.5)
        let began = Date()
        let out = daemon.directory.file("backup")
        let result = try ProcessResult.run(Binaries.credsd, ["backup", "--data-dir", daemon.dataDir, "--out", out])
        Thread.sleep(forTimeInterval: 0.3)
        stop.withLock { $0 = true }
        Thread.sleep(forTimeInterval: 0.2)
        #expect(result.status == 0, "\(result.stderr)")
        let before = acknowledged.withLock { $0.filter { $0.1 < began }.map(\.0) }
        #expect(!before.isEmpty, "writes were acknowledged before the backup began")
        #expect(acknowledged.withLock { $0.count } > before.count, "writes went on during the backup")
        daemon.stop()

        let restoredDir = daemon.directory.file("restored")
        try FileManager.default.createDirectory(
            atPath: restoredDir, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        try FileManager.default.copyItem(atPath: out + "/data.mdb", toPath: restoredDir + "/data.mdb")
        let restored = try DaemonFixture(configExtra: "")
        restored.stop()
        try FileManager.default.removeItem(atPath: restored.dataDir)
        try FileManager.default.moveItem(atPath: restoredDir, toPath: restored.dataDir)
        try restored.start()
        let members = try restored.adminCall("members.list", ["workspaceId": "ws-backup"])["members"]!.arrayValue!
        let present = Set(members.compactMap { $0["principal"]?.stringValue })
        let missing = before.filter { !present.contains("p\($0)") }
        #expect(missing.isEmpty, "\(missing.count) acknowledged writes missing from the backup")
        #expect(try restored.adminCall("audit.verify")["ok"] == true)
    }
}
