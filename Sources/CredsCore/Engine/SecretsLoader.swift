public import CredsCrypto
import Foundation

/// Loads the master keys and the platform's built-in keys named by the configuration.
public struct SecretsLoader: Sendable {
    public let config: DaemonConfig
    /// `$CREDENTIALS_DIRECTORY`, as systemd passes it.
    public let credentialsDirectory: String?

    public init(config: DaemonConfig, credentialsDirectory: String?) {
        self.config = config
        self.credentialsDirectory = credentialsDirectory
    }

    /// The key files in force: `keyFiles` if set, else systemd's credential, else the default path if it exists.
    public func keyFilePaths() -> [String] {
        if let files = config.keyFiles { return files }
        if let directory = credentialsDirectory, !directory.isEmpty {
            let path = directory + "/master.key"
            if FileManager.default.fileExists(atPath: path) { return [path] }
        }
        if FileManager.default.fileExists(atPath: DaemonConfig.defaultKeyFile) {
            return [DaemonConfig.defaultKeyFile]
        }
        return []
    }

    /// The key ring; a key file that cannot be read or is not a key stops startup.
    public func loadKeyRing() throws(ConfigError) -> KeyRing {
        var keys: [MasterKey] = []
        for path in keyFilePaths() {
            _ = try SecretFilePermissions.check(path: path, key: "encryption.keyFiles")
            do {
                let text = try SecretFile.read(path: path)
                let key = try MasterKey(base64Text: text)
                if !keys.contains(where: { $0.id == key.id }) { keys.append(key) }
            } catch let error as SecretFileError {
                throw ConfigError(key: "encryption.keyFiles", problem: error.description)
            } catch {
                throw ConfigError(key: "encryption.keyFiles", problem: "\(path): \(error)")
            }
        }
        return KeyRing(keys: keys)
    }

    /// Built-in keys by provider, each provider's pool in the configured order. A file named in the configuration
    /// must exist; a default path may be absent. The same key twice in a pool is refused.
    public func loadBuiltinKeys() throws(ConfigError) -> [String: [SecretBytes]] {
        var pools: [String: [SecretBytes]] = [:]
        for (provider, paths) in config.builtin.sorted(by: { $0.key < $1.key }) {
            var pool: [SecretBytes] = []
            for path in paths {
                if !config.builtinIsExplicit && !FileManager.default.fileExists(atPath: path) { continue }
                _ = try SecretFilePermissions.check(path: path, key: "builtin.\(provider)")
                do {
                    let key = try SecretFile.read(path: path)
                    guard key.count > 0 else {
                        throw ConfigError(key: "builtin.\(provider)", problem: "\(path): the file is empty")
                    }
                    guard !pool.contains(where: { $0.constantTimeEquals(key) }) else {
                        throw ConfigError(
                            key: "builtin.\(provider)", problem: "\(path): the same key twice in the pool")
                    }
                    pool.append(key)
                } catch let error as SecretFileError {
                    throw ConfigError(key: "builtin.\(provider)", problem: error.description)
                } catch let error as ConfigError {
                    throw error
                } catch {
                    throw ConfigError(key: "builtin.\(provider)", problem: path)
                }
            }
            if !pool.isEmpty { pools[provider] = pool }
        }
        return pools
    }

    /// The `[webhooks] secretFile` key: `whsec_` and base64 (the prefix may be left out), in guarded memory; nil
    /// when webhooks are off.
    public func loadWebhookSecret() throws(ConfigError) -> SecretBytes? {
        guard config.webhooks.url != nil, let path = config.webhooks.secretFile else { return nil }
        _ = try SecretFilePermissions.check(path: path, key: "webhooks.secretFile")
        let text: SecretBytes
        do {
            text = try SecretFile.read(path: path)
        } catch {
            throw ConfigError(key: "webhooks.secretFile", problem: error.description)
        }
        let key = text.withUnsafeBytes { bytes -> SecretBytes? in
            var encoded = bytes[...]
            while let last = encoded.last, last == 10 || last == 13 || last == 32 { encoded = encoded.dropLast() }
            let prefix = Array("whsec_".utf8)
            if encoded.starts(with: prefix) { encoded = encoded.dropFirst(prefix.count) }
            return Base64.decodeSecret(encoded)
        }
        guard let key, key.count >= 16 else {
            throw ConfigError(
                key: "webhooks.secretFile", problem: "\(path): not whsec_ followed by base64 of at least 16 bytes")
        }
        return key
    }

    /// Secret files in force that their group may read or write (SPEC 7: a warning, not a stop). Call after the
    /// loads succeeded: a file others may read has stopped them already.
    public func secretFileWarnings() -> [SecretFileWarning] {
        var files: [(key: String, path: String)] = keyFilePaths().map { ("encryption.keyFiles", $0) }
        for (provider, paths) in config.builtin.sorted(by: { $0.key < $1.key }) {
            for path in paths { files.append(("builtin.\(provider)", path)) }
        }
        files += oauthSecretFiles()
        if let path = config.cluster?.passwordFile { files.append(("cluster.passwordFile", path)) }
        if config.webhooks.url != nil, let path = config.webhooks.secretFile {
            files.append(("webhooks.secretFile", path))
        }
        return files.compactMap { file in try? SecretFilePermissions.check(path: file.path, key: file.key) }
    }
}
