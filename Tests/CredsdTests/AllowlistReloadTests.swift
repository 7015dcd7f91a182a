import Foundation
import Testing

/// A client connection held by a process running as another uid (`setpriv`), driven line by line.
///
/// The client is a few lines of Perl (perl-base is essential on Debian and Ubuntu): `SO_PEERCRED` records the
/// uid of the process that called `connect`, so the connection has to be opened by a process of that uid.
/// Commands on its stdin: `call` sends a `health` request and prints the next frame; `read` prints the next
/// frame. A frame is printed as `frame <json>`, the end of the connection as `closed`.
private final class OtherUidClient {
    static let script = #"""
        use strict; use Socket; use IO::Socket::UNIX;
        $| = 1; $SIG{PIPE} = 'IGNORE';
        my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM(), Peer => $ARGV[0]) or do { print "error $!\n"; exit 1 };
        print "connected\n";
        sub readn { my ($n) = @_; my $d = ''; while (length($d) < $n) { my $r = sysread($s, $d, $n - length($d), length($d)); return undef unless $r; } return $d; }
        while (my $cmd = <STDIN>) {
            chomp $cmd;
            if ($cmd eq 'call') { my $j = '{"jsonrpc":"2.0","id":7,"method":"health"}'; syswrite($s, pack('N', length $j) . $j); }
            my $h = readn(4); my $f = defined $h ? readn(unpack('N', $h)) : undef;
            print defined $f ? "frame $f\n" : "closed\n";
        }
        """#

    let process = Process()
    private let input = Pipe()
    private let output = Pipe()
    private var buffered: [UInt8] = []

    init(uid: Int, socket: String) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        process.arguments = [
            "--reuid=\(uid)", "--regid=\(uid)", "--clear-groups", "/usr/bin/perl", "-e", Self.script, socket,
        ]
        process.standardInput = input
        process.standardOutput = output
        try process.run()
    }

    deinit {
        if process.isRunning { process.terminate() }
        try? input.fileHandleForWriting.close()
    }

    func send(_ command: String) {
        input.fileHandleForWriting.write(Data((command + "\n").utf8))
    }

    /// The next line the client prints, or nil when none comes within `milliseconds` (a generous bound).
    func line(milliseconds: Int32 = 15_000) -> String? {
        let fd = output.fileHandleForReading.fileDescriptor
        while true {
            if let newline = buffered.firstIndex(of: 0x0A) {
                let line = String(decoding: buffered[..<newline], as: UTF8.self)
                buffered.removeSubrange(...newline)
                return line
            }
            var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&entry, 1, milliseconds) == 1 else { return nil }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let count = read(fd, &chunk, chunk.count)
            guard count > 0 else { return nil }
            buffered += chunk.prefix(count)
        }
    }
}

@Suite("SIGHUP: a uid removed from an allowlist loses its open connections")
struct AllowlistReloadTests {
    static let canSwitchUser =
        getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv")
        && FileManager.default.isExecutableFile(atPath: "/usr/bin/perl")

    @Test(
        "removed uid: forbidden (id null) and closed on both sockets; a uid still listed keeps its connections",
        .enabled(if: canSwitchUser))
    func removedUidIsDisconnected() throws {
        let removed = 40_103
        let kept = 40_104
        let daemon = try DaemonFixture(
            mode: .process,
            // A long idle timeout, so that only the reload can close these connections.
            configExtra: "[limits]\nidleTimeoutSeconds = 3600\n",
            socketsExtra: """
                resolveMode = "0666"
                adminMode = "0666"
                resolveAllowUids = [\(removed), \(kept)]
                adminAllowUids = [\(removed), \(kept)]
                """
        )
        chmod(daemon.directory.path, 0o755)
        var clients: [String: OtherUidClient] = [:]
        for (name, uid, socket) in [
            ("removed.resolve", removed, daemon.resolveSocket), ("removed.admin", removed, daemon.adminSocket),
            ("kept.resolve", kept, daemon.resolveSocket), ("kept.admin", kept, daemon.adminSocket),
        ] {
            let client = try OtherUidClient(uid: uid, socket: socket)
            #expect(client.line() == "connected", "\(name)")
            client.send("call")
            #expect(client.line()?.contains(#""status":"ok""#) == true, "\(name) is served before the reload")
            clients[name] = client
        }

        var toml = try String(contentsOfFile: daemon.configPath, encoding: .utf8)
        toml = toml.replacingOccurrences(
            of: "resolveAllowUids = [\(removed), \(kept)]", with: "resolveAllowUids = [\(kept)]")
        toml = toml.replacingOccurrences(
            of: "adminAllowUids = [\(removed), \(kept)]", with: "adminAllowUids = [\(kept)]")
        try toml.write(toFile: daemon.configPath, atomically: true, encoding: .utf8)
        kill(daemon.pid!, SIGHUP)
        #expect(daemon.waitForLog("configuration reloaded"))

        for name in ["removed.resolve", "removed.admin"] {
            let client = try #require(clients[name])
            client.send("read")
            let answer = client.line()
            #expect(answer?.contains(#""reason":"forbidden""#) == true, "\(name): \(answer ?? "no answer")")
            #expect(answer?.contains(#""id":null"#) == true, "\(name): \(answer ?? "no answer")")
            client.send("read")
            #expect(client.line() == "closed", "\(name) is still open after the reload")
        }
        for name in ["kept.resolve", "kept.admin"] {
            let client = try #require(clients[name])
            client.send("call")
            #expect(client.line()?.contains(#""status":"ok""#) == true, "\(name) is served after the reload")
        }
        #expect(daemon.daemonLog.contains("connections closed: peer no longer allowed"))
        #expect(daemon.daemonLog.contains("conn.peer.uid=\(removed)"))
        #expect(daemon.daemonLog.contains("connections.closed=2"))
        // A new connection of the removed uid is refused; the daemon's own uid is always allowed.
        let again = try OtherUidClient(uid: removed, socket: daemon.resolveSocket)
        #expect(again.line() == "connected")
        again.send("read")
        #expect(again.line()?.contains(#""reason":"forbidden""#) == true)
        #expect(try daemon.resolveCall("health")["status"] == "ok")
        #expect(try daemon.adminCall("health")["status"] == "ok")
    }
}
