import Foundation

/// A fresh directory under /tmp (short, so socket paths fit), removed on deinit.
final class TemporaryDirectory: @unchecked Sendable {
    let path: String

    init() {
        var template = Array("/tmp/credsd-test-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed")
        path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }

    func file(_ name: String) -> String { "\(path)/\(name)" }

    @discardableResult
    func write(_ name: String, _ text: String, mode: Int = 0o600) -> String {
        let target = file(name)
        _ = FileManager.default.createFile(
            atPath: target, contents: Data(text.utf8), attributes: [.posixPermissions: mode])
        return target
    }
}
