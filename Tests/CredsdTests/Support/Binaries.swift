import Foundation

/// Paths of the package's executables, built next to the test bundle by `swift build`.
enum Binaries {
    static let directory: String = {
        if let override = ProcessInfo.processInfo.environment["CREDSD_BIN_DIR"] { return override }
        let testBinary = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var candidate = testBinary.deletingLastPathComponent()
        if candidate.lastPathComponent.hasSuffix(".xctest") { candidate = candidate.deletingLastPathComponent() }
        if FileManager.default.isExecutableFile(atPath: candidate.appendingPathComponent("credsd").path) {
            return candidate.path
        }
        let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        return packageRoot.appendingPathComponent(".build/debug").path
    }()

    static var credsd: String { directory + "/credsd" }
    static var credsctl: String { directory + "/credsctl" }
}
