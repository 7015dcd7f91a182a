import ArgumentParser
import CredsClient
import CredsProtocol
import Foundation

/// Sends one call and prints its answer; maps failures to credsctl's exit statuses.
enum Invocation {
    /// Calls and prints the answer.
    static func run(_ method: String, _ params: [String: JSONValue], options: GlobalOptions) throws -> JSONValue {
        try call(method, params, options: options, printResult: true)
    }

    /// Calls and prints only errors.
    static func runQuietly(_ method: String, _ params: [String: JSONValue], options: GlobalOptions) throws -> JSONValue
    {
        try call(method, params, options: options, printResult: false)
    }

    private static func call(
        _ method: String,
        _ params: [String: JSONValue],
        options: GlobalOptions,
        printResult: Bool
    ) throws -> JSONValue {
        let path = options.socketPath(for: method)
        do {
            let client = try CredsClient(socketPath: path)
            defer { client.close() }
            let result = try client.call(method, params)
            if !printResult {
                return result
            } else if options.json {
                print(String(decoding: result.serialized(), as: UTF8.self))
            } else {
                print(OutputRenderer.render(result), terminator: "")
            }
            return result
        } catch .remote(let error) {
            if options.json {
                let object: JSONValue = [
                    "error": ["code": .int(error.code), "message": .string(error.message), "data": .object(error.data)]
                ]
                print(String(decoding: object.serialized(), as: UTF8.self))
            }
            var details = ""
            if let fields = error.data["fields"]?.arrayValue {
                details = fields.map { field in
                    "\n  \(field["field"]?.stringValue ?? "?"): \(field["problem"]?.stringValue ?? "?") (\(field["message"]?.stringValue ?? ""))"
                }.joined()
            }
            FileHandle.standardError.write(Data("error: \(error.reason): \(error.message)\(details)\n".utf8))
            throw ExitCode(1)
        } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode(3)
        }
    }
}
