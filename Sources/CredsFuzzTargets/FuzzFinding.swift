/// A property a fuzz target checks that did not hold for one input.
public struct FuzzFinding: Error, CustomStringConvertible, Sendable {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
