import Foundation
import CredsCore
import Testing

@Suite("TOML configuration")
struct ConfigTests {
    @Test("the full example of the contract parses to its values")
    func fullExample() throws {
        let config = try DaemonConfig.parse(
            toml: """
                dataDir = "/var/lib/credsd"
                [sockets]
                resolve = "/run/credsd/resolve.sock"
                admin = "/run/credsd/admin.sock"
                resolveMode = "0660"
                adminMode = "0600"
                resolveAllowUids = [1001]
                adminAllowUids = []
                [encryption]
                keyFiles = ["/etc/credsd/master.key", "/etc/credsd/old.key"]
                [resolve]
                requireGrant = false
                refreshWindowSeconds = 120
                [limits]
                maxFrameBytes = 2097152
                maxConnections = 10
                idleTimeoutSeconds = 5
                [builtin]
                fal = "/etc/credsd/builtin/fal.key"
                [oauth.google-workspace]
                clientId = "abc"
                clientSecretFile = "/etc/credsd/google-client-secret"
                authorizeUrl = "https://accounts.google.com/o/oauth2/v2/auth"
                tokenUrl = "https://oauth2.googleapis.com/token"
                [oauth.github]
                appId = "123456"
                appSlug = "builderstudio"
                clientId = "Iv1.x"
                clientSecretFile = "/etc/credsd/github-client-secret"
                privateKeyFile = "/etc/credsd/github-app.pem"
                installUrl = "https://github.com/apps/builderstudio/installations/new"
                tokenUrl = "https://github.com/login/oauth/access_token"
                apiBaseUrl = "https://api.github.com"
                """)
        #expect(config.sockets.resolveAllowUids == [1001])
        #expect(config.keyFiles == ["/etc/credsd/master.key", "/etc/credsd/old.key"])
        #expect(config.resolve.requireGrant == false)
        #expect(config.resolve.refreshWindowSeconds == 120)
        #expect(config.limits.maxConnections == 10)
        #expect(config.builtin == ["fal": ["/etc/credsd/builtin/fal.key"]])
        #expect(config.builtinIsExplicit)
        #expect(config.oauth["github"]?.values["appId"] == "123456")
        #expect(config.oauth["google-workspace"]?.values["tokenUrl"] == "https://oauth2.googleapis.com/token")
    }

    @Test("an empty file gives the documented defaults")
    func defaults() throws {
        let config = try DaemonConfig.parse(toml: "")
        #expect(config == DaemonConfig())
        #expect(config.sockets.resolveMode == 0o660)
        #expect(config.sockets.adminMode == 0o600)
        #expect(config.limits.maxFrameBytes == 1_048_576)
        #expect(config.limits.maxConnections == 1024)
        #expect(config.limits.idleTimeoutSeconds == 60)
        #expect(config.resolve.requireGrant)
        #expect(config.resolve.refreshWindowSeconds == 300)
        #expect(config.keyFiles == nil)
        #expect(config.builtin.keys.sorted() == ["fal", "gemini"])
        #expect(!config.builtinIsExplicit)
    }

    @Test(
        "unknown keys and malformed values name the key",
        arguments: [
            ("colour = 1", "colour"),
            ("dataDir = 5", "dataDir"),
            ("dataDir = \"\"", "dataDir"),
            ("[sockets]\nresolveMode = \"rw\"", "sockets.resolveMode"),
            ("[sockets]\nadminMode = \"01777\"", "sockets.adminMode"),
            ("[sockets]\nresolveAllowUids = [-1]", "sockets.resolveAllowUids"),
            ("[sockets]\nextra = true", "sockets.extra"),
            ("[encryption]\nkeyFiles = \"/one\"", "encryption.keyFiles"),
            ("[resolve]\nrequireGrant = \"yes\"", "resolve.requireGrant"),
            ("[limits]\nmaxConnections = 0", "limits.maxConnections"),
            ("[limits]\nmaxFrameBytes = 1.5", "limits.maxFrameBytes"),
            ("[builtin]\ngithub = \"/x\"", "builtin.github"),
            ("[builtin]\nnope = \"/x\"", "builtin.nope"),
            ("[oauth.github]\nsecret = \"x\"", "oauth.github.secret"),
            ("[oauth.github]\ntokenUrl = \"ftp://x\"", "oauth.github.tokenUrl"),
            ("[oauth.slack]\nclientId = \"x\"", "oauth.slack"),
            ("sockets = 3", "sockets"),
            ("[sockets\nresolve = 1", "line 1"),
        ])
    func refusals(toml: String, key: String) {
        #expect(throws: ConfigError.self) { try DaemonConfig.parse(toml: toml) }
        do {
            _ = try DaemonConfig.parse(toml: toml)
        } catch {
            #expect(error.key == key)
        }
    }
}

@Suite("the shipped example configuration")
struct ExampleConfigTests {
    @Test("examples/credsd.toml parses and equals the documented defaults")
    func exampleParses() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("examples/credsd.toml")
        var config = try DaemonConfig.parse(toml: try String(contentsOf: url, encoding: .utf8))
        #expect(config.builtin.isEmpty)
        config.builtin = DaemonConfig.defaultBuiltin
        config.builtinIsExplicit = false
        #expect(config == DaemonConfig())
    }
}
