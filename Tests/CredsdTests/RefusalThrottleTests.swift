@testable import CredsCore
import CredsProtocol
import Testing

@Suite("refusal throttle and GitHub installation pages")
struct RefusalThrottleTests {
    @Test("100 refusals a second per uid are recorded; the rest is one summary, taken once")
    func throttlePerUid() {
        let throttle = RefusalThrottle()
        var recorded = 0
        var closeAt: [Int64] = []
        for _ in 0..<250 {
            let admission = throttle.admit(peerUid: 1000, socket: .resolve, second: 50)
            if admission.record { recorded += 1 }
            if let second = admission.closeAt { closeAt.append(second) }
            #expect(admission.summaries.isEmpty)
        }
        #expect(recorded == RefusalThrottle.perSecond)
        #expect(closeAt == [50])
        // Another uid has its own budget.
        #expect(throttle.admit(peerUid: 1001, socket: .admin, second: 50).record)
        #expect(throttle.close(peerUid: 1000, second: 50) == .init(peerUid: 1000, socket: .resolve, suppressed: 150))
        #expect(throttle.close(peerUid: 1000, second: 50) == nil)
    }

    @Test("a new second hands over the last second's summary if its timer has not")
    func rollover() {
        let throttle = RefusalThrottle()
        for _ in 0..<105 { _ = throttle.admit(peerUid: nil, socket: .resolve, second: 7) }
        let next = throttle.admit(peerUid: nil, socket: .resolve, second: 8)
        #expect(next.record)
        #expect(next.summaries == [.init(peerUid: nil, socket: .resolve, suppressed: 5)])
        #expect(throttle.close(peerUid: nil, second: 7) == nil)
    }

    @Test("installation pages: listed ids, app id, and when to ask for the next page")
    func installationPages() throws {
        let full = JSONValue.object([
            "total_count": 250,
            "installations": .array((1...100).map { ["id": .int(Int64($0)), "app_id": 9] }),
        ])
        let page = try #require(GitHubInstallationPage(json: full))
        #expect(page.lists(42, appId: 9))
        #expect(!page.lists(42, appId: 8))
        #expect(!page.lists(101, appId: 9))
        #expect(page.hasMore(page: 1) && page.hasMore(page: 2) && !page.hasMore(page: 3))
        #expect(!page.hasMore(page: GitHubInstallationPage.maxPages))
        #expect(GitHubInstallationPage(json: ["message": "Bad credentials"]) == nil)
        let short = try #require(GitHubInstallationPage(json: ["installations": [["id": "x"], ["id": 3]]]))
        #expect(short.installations.map(\.id) == [3])
        #expect(!short.hasMore(page: 1))
    }
}
