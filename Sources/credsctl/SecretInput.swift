import ArgumentParser
import Foundation

/// Reads secrets from a file or standard input (`-`), never from the command line.
enum SecretInput {
    /// The file's text with one trailing line break removed.
    static func text(from path: String, what: String, keepTrailingNewline: Bool = false) throws -> String {
        let data: Data
        if path == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            guard let contents = FileManager.default.contents(atPath: path) else {
                throw ValidationError("cannot read \(what) from \(path)")
            }
            data = contents
        }
        var text = String(decoding: data, as: UTF8.self)
        if keepTrailingNewline { return text }
        if text.hasSuffix("\r\n") {
            text.removeLast(2)
        } else if text.hasSuffix("\n") {
            text.removeLast()
        }
        return text
    }
}
