public import CredsCrypto

extension SecretsLoader {
    /// `[cluster] passwordFile`'s content, checked like every secret file (SPEC 7); nil without one.
    public func loadClusterPassword() throws(ConfigError) -> SecretBytes? {
        guard let path = config.cluster?.passwordFile else { return nil }
        let key = "cluster.passwordFile"
        _ = try SecretFilePermissions.check(path: path, key: key)
        let bytes: SecretBytes
        do {
            bytes = try SecretFile.read(path: path)
        } catch {
            throw ConfigError(key: key, problem: error.description)
        }
        guard bytes.count > 0 else { throw ConfigError(key: key, problem: "\(path): the file is empty") }
        return bytes
    }
}
