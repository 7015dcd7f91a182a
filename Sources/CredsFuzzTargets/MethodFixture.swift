import CredsCore
import CredsCrypto
import CredsOAuth
import CredsProtocol
import CredsServer
import Dispatch
import Foundation
import Logging
import NIOCore
import NIOPosix
import _CryptoExtras

/// A real engine over a real LMDB store for the `methods` target, built once per process.
///
/// The store lives on tmpfs (`/dev/shm` when it exists): every write is still a durable LMDB commit on the
/// writer thread, but a commit there costs no disk flush, which keeps 10^6 executions within minutes. After
/// seeding, the store is copied (compacted) as the pristine state; an input that may have changed anything
/// (a write or a use of a credential) is followed by a reset to that copy with a new engine, so every input
/// runs against the same state and a saved input replays the same way. The seeds are made again every five
/// minutes, before the OAuth state they hold (ten minutes) expires.
final class MethodFixture: @unchecked Sendable {
    // @unchecked Sendable: used only under `MethodCallTarget.fixture`'s lock, one input at a time.

    /// Longest wait for one method's answer before the target reports it as hung.
    static let answerTimeout: Double = 20
    static let reseedSeconds: Int64 = 300

    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let seeds = MethodSeeds()
    /// Google and GitHub, on 127.0.0.1.
    let provider: StubProvider
    private let root: String
    private let keyRing: KeyRing
    private let builtinKeys: [String: SecretBytes]
    private let oauth: OAuthSettings
    private let logger = Logger(label: "credsd-fuzz", factory: { _ in SwiftLogNoOpLogHandler() })
    private var generation = 0
    private var directory: String
    private var pristine: String
    private var seededAt: Timestamp
    private var live: Live?
    /// Whether the last input may have changed the store or the engine's memory.
    var dirty = false

    init() throws {
        Self.removeStaleRoots(in: Self.base)
        root = Self.root(of: getpid())
        try? FileManager.default.removeItem(atPath: root)
        try FileManager.default.createDirectory(
            atPath: root, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        keyRing = KeyRing(keys: [MasterKey.generate()])
        builtinKeys = [
            "fal": SecretBytes(copying: Array(seeds.builtinFalKey.utf8)),
            "gemini": SecretBytes(copying: Array(seeds.builtinGeminiKey.utf8)),
        ]
        let appKey = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        provider = try StubProvider(group: group)
        oauth = OAuthSettings.local(
            baseURL: provider.baseURL,
            googleClientSecret: SecretBytes(copying: Array(seeds.googleClientSecret.utf8)),
            githubClientSecret: SecretBytes(copying: Array(seeds.githubClientSecret.utf8)),
            githubKey: try GitHubAppKey(pem: appKey.pemRepresentation)
        )
        directory = ""
        pristine = ""
        seededAt = Timestamp(microseconds: 0)
        try seed()
    }

    /// The engine over the current store and the two sockets' tables of it.
    private struct Live {
        let engine: CredsEngine
        let resolveTable: MethodRegistry
        let adminTable: MethodRegistry
    }

    /// The methods of a socket.
    func table(_ socket: SocketKind) -> MethodRegistry {
        socket == .resolve ? live!.resolveTable : live!.adminTable
    }

    /// Brings the store and the engine back to the seeded state if the last input may have changed them.
    func prepare() throws {
        if Timestamp.now() - seededAt > .seconds(Self.reseedSeconds) {
            try seed()
        } else if dirty {
            try open(copyOf: pristine)
        }
        dirty = false
    }

    /// An empty store, seeded through the methods themselves, then copied as the pristine state.
    private func seed() throws {
        try open(copyOf: nil)
        try seeds.populate(self)
        let copy = "\(root)/pristine-\(generation)"
        try FileManager.default.createDirectory(
            atPath: copy, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        try live!.engine.database.environment.copy(to: copy)
        if !pristine.isEmpty { try? FileManager.default.removeItem(atPath: pristine) }
        pristine = copy
        seededAt = Timestamp.now()
    }

    /// Replaces the store (by a copy of `source`'s `data.mdb`, or an empty one) and the engine over it.
    private func open(copyOf source: String?) throws {
        live?.engine.database.close()
        live = nil
        let previous = directory
        generation += 1
        directory = "\(root)/store-\(generation)"
        try FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        if let source {
            try FileManager.default.copyItem(atPath: "\(source)/data.mdb", toPath: "\(directory)/data.mdb")
        }
        let database = try Self.openDatabase(directory)
        let engine = CredsEngine(
            database: database, keyRing: keyRing, builtinKeys: builtinKeys.mapValues { [$0] },
            resolveConfig: ResolveConfig(),
            oauth: oauth,
            tokenClient: TokenEndpointClient(timeout: .seconds(2)), logger: logger
        )
        live = Live(
            engine: engine, resolveTable: .resolveSocket(engine), adminTable: .adminSocket(engine)
        )
        if !previous.isEmpty { try? FileManager.default.removeItem(atPath: previous) }
    }

    private static func openDatabase(_ directory: String) throws -> CredsDatabase {
        try FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        return try CredsDatabase(directory: directory, initialMapSize: 8 << 20, auditMaxEntries: 10_000)
    }

    /// Removes what earlier runs left when they were killed (a crash found, say): roots of processes gone.
    private static func removeStaleRoots(in base: String) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: base) else { return }
        for name in names where name.hasPrefix("credsd-fuzz-") {
            guard let pid = Int32(name.dropFirst("credsd-fuzz-".count)), kill(pid, 0) != 0, errno == ESRCH else {
                continue
            }
            try? FileManager.default.removeItem(atPath: "\(base)/\(name)")
        }
    }

    /// tmpfs when there is one.
    private static var base: String {
        FileManager.default.isWritableFile(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
    }

    private static func root(of pid: pid_t) -> String {
        "\(base)/credsd-fuzz-\(pid)"
    }

    /// Removes the stores of process `pid`; called at exit.
    static func removeFiles(of pid: pid_t) {
        try? FileManager.default.removeItem(atPath: root(of: pid))
    }

    /// What became of one call.
    enum Outcome {
        case answered(JSONValue)
        case failed(any Error)
        /// The socket's table has no such method.
        case noHandler
        case timedOut
    }

    /// Calls `method` on the event loop, as the server does (params read from their JSON bytes), and waits for
    /// its answer.
    func call(_ socket: SocketKind, _ method: String, _ params: [String: JSONValue]) -> Outcome {
        guard let entry = table(socket).entry(for: method) else { return .noHandler }
        let box = OutcomeBox()
        table(socket).call(method, params, on: group.next(), peerUid: getuid(), peerPid: getpid()).whenComplete {
            result in
            box.result = result
            box.done.signal()
        }
        guard box.done.wait(timeout: .now() + Self.answerTimeout) == .success, let result = box.result else {
            dirty = true
            return .timedOut
        }
        let outcome: Outcome
        switch result {
        case .success(let value): outcome = .answered(value)
        case .failure(let error): outcome = .failed(error)
        }
        if entry.kind != .read && !Self.refusedBeforeEffect(method, outcome) { dirty = true }
        return outcome
    }

    /// Refusals a write or a use gives before it reads or changes anything (SPEC: params are validated first):
    /// after one the store needs no reset. Most fuzzed calls end so, and a reset (a new LMDB environment and
    /// writer thread) costs more than the call. `oauth.complete` uses its state up before it checks the rest.
    private static let effectFreeReasons: Set<ErrorReason> = [
        .invalidParams, .unknownProvider, .providerNotConnectable, .invalidCredential, .grantRequired, .grantInvalid,
    ]

    private static func refusedBeforeEffect(_ method: String, _ outcome: Outcome) -> Bool {
        guard method != "oauth.complete", case .failed(let error as RPCError) = outcome else { return false }
        return effectFreeReasons.contains(error.reason)
    }

    /// Calls a seeding method; anything but an answer stops the fixture.
    func seedCall(_ socket: SocketKind, _ method: String, _ params: [String: JSONValue]) throws -> JSONValue {
        switch call(socket, method, params) {
        case .answered(let value): return value
        case .failed(let error): throw FuzzFinding("fixture: seeding \(method) failed: \(error)")
        case .noHandler: throw FuzzFinding("fixture: no method \(method)")
        case .timedOut: throw FuzzFinding("fixture: seeding \(method) did not answer")
        }
    }
}

/// Hands a result from the event loop to the waiting thread.
private final class OutcomeBox: @unchecked Sendable {
    // @unchecked Sendable: `result` is written before `done` is signalled and read after the wait returns.
    var result: Result<JSONValue, any Error>?
    let done = DispatchSemaphore(value: 0)
}
