import ArgumentParser
import CredsCore
import Foundation

/// `credsd check-config`: validates the configuration and the files it names, prints the effective settings.
struct CheckConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate the configuration and print the effective settings (secrets shown as file paths)."
    )

    @OptionGroup var options: ConfigOptions

    func run() throws {
        let (config, found) = options.load()
        var problems = found
        let loader = SecretsLoader(
            config: config, credentialsDirectory: ProcessInfo.processInfo.environment["CREDENTIALS_DIRECTORY"]
        )
        var keyIds: [String] = []
        do { keyIds = try loader.loadKeyRing().ids } catch { problems.append(error) }
        var builtin: [String] = []
        do { builtin = try loader.loadBuiltinKeys().keys.sorted() } catch { problems.append(error) }
        do { _ = try loader.loadOAuth() } catch { problems.append(error) }
        do { _ = try loader.loadClusterPassword() } catch { problems.append(error) }
        print(
            EffectiveConfigText.render(config, keyFiles: loader.keyFilePaths(), keyIds: keyIds, builtinLoaded: builtin))
        for warning in loader.secretFileWarnings() {
            FileHandle.standardError.write(Data("warning: \(warning)\n".utf8))
        }
        guard problems.isEmpty else {
            for problem in problems { FileHandle.standardError.write(Data("error: \(problem)\n".utf8)) }
            throw ExitCode(1)
        }
        print("# configuration is valid")
    }
}
