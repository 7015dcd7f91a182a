public import CredsCore
import CredsCrypto
import Logging
import Synchronization

/// Applies a configuration read again (what SIGHUP does): master key files, built-in key files, uid allowlists and
/// limits. A uid an allowlist no longer names loses its open connections too (SPEC 7). An invalid new
/// configuration keeps the old one and says why. Logs what changed, never a secret. Changes that need a restart
/// are logged as such and not applied.
public final class ConfigReloader: Sendable {
    private let engine: CredsEngine
    private let daemon: CredsDaemon
    private let logger: Logger
    private let credentialsDirectory: String?
    /// The configuration in force; held for the whole of a reload, so reloads never interleave.
    private let current: Mutex<DaemonConfig>

    init(engine: CredsEngine, daemon: CredsDaemon, logger: Logger, credentialsDirectory: String?, initial: DaemonConfig)
    {
        self.engine = engine
        self.daemon = daemon
        self.logger = logger
        self.credentialsDirectory = credentialsDirectory
        current = Mutex(initial)
    }

    /// Applies `loaded`, a configuration read again with the problems found in it. Returns the configuration in
    /// force afterwards.
    @discardableResult
    public func reload(_ loaded: (DaemonConfig, [ConfigError])) -> DaemonConfig {
        current.withLock { current in
            current = reload(from: current, to: loaded)
            return current
        }
    }

    private func reload(from current: DaemonConfig, to loaded: (DaemonConfig, [ConfigError])) -> DaemonConfig {
        let (next, problems) = loaded
        if let problem = problems.first {
            logger.warning(
                "configuration reload refused; keeping the running configuration",
                metadata: ["config.problem": "\(problem)"])
            return current
        }
        let loader = SecretsLoader(config: next, credentialsDirectory: credentialsDirectory)
        let keyRing: KeyRing
        let builtin: [String: [SecretBytes]]
        do {
            keyRing = try loader.loadKeyRing()
            builtin = try loader.loadBuiltinKeys()
        } catch {
            logger.warning(
                "configuration reload refused; keeping the running configuration",
                metadata: ["config.problem": "\(error)"])
            return current
        }
        let oldKeys = engine.keyRing.ids
        let oldBuiltin = engine.builtinKeyIds
        // The warnings are read again too: a file made group-readable, or fixed, shows in health.problems now.
        let fileWarnings = loader.secretFileWarnings()
        logger.warnAbout(fileWarnings)
        engine.reloadSecrets(
            keyRing: keyRing, builtinKeys: builtin, secretFileWarnings: fileWarnings.map(\.description))
        var changes: Logger.Metadata = [:]
        let closed = daemon.applyLimits(next)
        if closed > 0 { changes["connections.closed"] = "\(closed)" }
        if oldKeys != keyRing.ids {
            changes["keys"] = "\(oldKeys.joined(separator: ",")) -> \(keyRing.ids.joined(separator: ","))"
        }
        // Pool keys by id: a key added or removed shows; the others keep their cooldowns (ids are stable).
        let newBuiltin = engine.builtinKeyIds
        if oldBuiltin != newBuiltin {
            let describe = { (pools: [String: [String]]) in
                pools.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.joined(separator: "+"))" }
                    .joined(separator: ",")
            }
            changes["builtin"] = "\(describe(oldBuiltin)) -> \(describe(newBuiltin))"
        }
        if current.sockets.resolveAllowUids != next.sockets.resolveAllowUids {
            changes["sockets.resolveAllowUids"] = "\(next.sockets.resolveAllowUids)"
        }
        if current.sockets.adminAllowUids != next.sockets.adminAllowUids {
            changes["sockets.adminAllowUids"] = "\(next.sockets.adminAllowUids)"
        }
        if current.limits != next.limits { changes["limits"] = "\(next.limits)" }
        var needRestart: [String] = []
        if current.limits.listenBacklog != next.limits.listenBacklog { needRestart.append("limits.listenBacklog") }
        if current.dataDir != next.dataDir { needRestart.append("dataDir") }
        if current.sockets.resolve != next.sockets.resolve || current.sockets.admin != next.sockets.admin
            || current.sockets.resolveMode != next.sockets.resolveMode
            || current.sockets.adminMode != next.sockets.adminMode
        {
            needRestart.append("sockets")
        }
        if current.oauth != next.oauth { needRestart.append("oauth") }
        if current.resolve != next.resolve { needRestart.append("resolve") }
        if current.metrics != next.metrics { needRestart.append("metrics") }
        if current.audit != next.audit { needRestart.append("audit") }
        if current.cluster != next.cluster { needRestart.append("cluster") }
        if !needRestart.isEmpty { changes["restart.needed"] = "\(needRestart.joined(separator: ","))" }
        logger.info("configuration reloaded", metadata: changes.isEmpty ? ["changes": "none"] : changes)
        var applied = next
        for key in needRestart {
            switch key {
            case "dataDir": applied.dataDir = current.dataDir
            case "sockets":
                applied.sockets.resolve = current.sockets.resolve
                applied.sockets.admin = current.sockets.admin
                applied.sockets.resolveMode = current.sockets.resolveMode
                applied.sockets.adminMode = current.sockets.adminMode
            case "oauth": applied.oauth = current.oauth
            case "resolve": applied.resolve = current.resolve
            case "metrics": applied.metrics = current.metrics
            case "limits.listenBacklog": applied.limits.listenBacklog = current.limits.listenBacklog
            case "cluster": applied.cluster = current.cluster
            default: applied.audit = current.audit
            }
        }
        return applied
    }
}
