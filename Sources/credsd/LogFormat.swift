import ArgumentParser

/// How log lines are written to standard error.
enum LogFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}
