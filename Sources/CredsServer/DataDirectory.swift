import Glibc

/// Creates the data directory (and its parents) and holds it at mode 0700.
enum DataDirectory {
    static func prepare(_ path: String) throws(DataDirectoryError) {
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            current += "/" + part
            if mkdir(current, 0o700) != 0 && errno != EEXIST {
                throw DataDirectoryError(path: current, problem: String(cString: strerror(errno)))
            }
        }
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else {
            throw DataDirectoryError(path: path, problem: "not a directory")
        }
        guard chmod(path, 0o700) == 0 else {
            throw DataDirectoryError(path: path, problem: String(cString: strerror(errno)))
        }
    }
}

/// The data directory could not be prepared.
struct DataDirectoryError: Error, CustomStringConvertible {
    let path: String
    let problem: String
    var description: String { "dataDir \(path): \(problem)" }
}
