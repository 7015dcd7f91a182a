/// Running totals of a rotation.
struct RotationTotals: Sendable {
    var rotated: Int64 = 0
    var unreadable: Int64 = 0
    var checked: Int64 = 0
}
