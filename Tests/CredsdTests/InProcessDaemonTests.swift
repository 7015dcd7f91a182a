import CredsProtocol
import CredsTesting
import Foundation
import Synchronization
import Testing

/// The test seam itself: an in-process daemon shares the test process without depending on what its tests block.
@Suite("in-process daemon")
struct InProcessDaemonTests {
    @Test("starts, answers and stops while every cooperative thread is blocked, as synchronous tests block them")
    func independentOfTheCooperativePool() throws {
        let daemon = try DaemonFixture()
        daemon.stop()
        // Every cooperative thread there is gets blocked (this test's own included), until released.
        let started = Counter()
        let release = DispatchSemaphore(value: 0)
        let blockers = ProcessInfo.processInfo.activeProcessorCount * 4
        for _ in 0..<blockers {
            Task.detached {
                started.value.add(1, ordering: .relaxed)
                release.wait()
            }
        }
        defer { for _ in 0..<blockers { release.signal() } }
        var seen = -1
        while seen != started.value.load(ordering: .relaxed) {
            seen = started.value.load(ordering: .relaxed)
            usleep(100_000)
        }
        // Three starts and stops take about 60 ms; each took 0.7 s when the stop waited for a cooperative thread
        // (NIO's shutdown callback on DispatchQueue.global()), and a stop never finished when ServiceLifecycle's
        // gracefulShutdown() resumed the daemon through an unstructured Task.
        let clock = ContinuousClock()
        let begin = clock.now
        for _ in 0..<3 {
            try daemon.start()
            #expect(try daemon.adminCall("health")["status"] == "ok")
            #expect(daemon.stop() == 0)
        }
        let took = clock.now - begin
        #expect(took < .milliseconds(1_500), "three starts and stops took \(took)")
    }

    @Test("reload() applies new key files to the running engine, answers follow, and the log says so, as SIGHUP does")
    func reloadReachesTheEngine() throws {
        let daemon = try DaemonFixture()
        let before = try #require(daemon.engine?.keyRing.ids)
        daemon.setKeys([daemon.makeKey(named: "second.key")] + daemon.keyFiles)
        daemon.reload()
        let after = try #require(daemon.engine?.keyRing.ids)
        #expect(after.count == 2 && after.last == before.first, "\(before) -> \(after)")
        #expect(try daemon.adminCall("health")["activeKeyId"] == .string(after[0]))
        #expect(daemon.daemonLog.contains("configuration reloaded"))
        #expect(daemon.daemonLog.contains("keys=\(before[0]) -> \(after.joined(separator: ","))"))
    }

    @Test("socket files get their configured modes (through a thread's own umask)")
    func socketModes() throws {
        let daemon = try DaemonFixture(socketsExtra: "resolveMode = \"0666\"\nadminMode = \"0640\"\n")
        let mode = { (path: String) in
            (try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue
        }
        #expect(mode(daemon.resolveSocket) == 0o666)
        #expect(mode(daemon.adminSocket) == 0o640)
        #expect(try daemon.resolveCall("health")["status"] == "ok")
    }
}

private final class Counter: Sendable {
    let value = Atomic<Int>(0)
}
