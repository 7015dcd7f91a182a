/// Request latencies in fixed exponential buckets, for percentiles without keeping every sample.
struct LatencyHistogram: Sendable {
    /// Upper bounds in microseconds; the last bucket is open-ended.
    static let bounds: [Int64] = [
        5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 200_000, 500_000,
        1_000_000, 2_000_000, 5_000_000, 10_000_000,
    ]

    private(set) var counts = [Int64](repeating: 0, count: LatencyHistogram.bounds.count + 1)
    private(set) var total: Int64 = 0
    private(set) var maxMicros: Int64 = 0

    mutating func record(micros: Int64) {
        let index = Self.bounds.firstIndex { micros <= $0 } ?? Self.bounds.count
        counts[index] += 1
        total += 1
        maxMicros = max(maxMicros, micros)
    }

    /// The upper bound of the bucket holding the `quantile` sample (the maximum for the open bucket).
    func percentile(_ quantile: Double) -> Int64 {
        guard total > 0 else { return 0 }
        let rank = Int64((Double(total) * quantile).rounded(.up))
        var seen: Int64 = 0
        for (index, count) in counts.enumerated() {
            seen += count
            if seen >= rank { return index < Self.bounds.count ? min(Self.bounds[index], maxMicros) : maxMicros }
        }
        return maxMicros
    }
}
