/// Whether a write records the events of the changes it makes, and as whose (SPEC 11).
public enum EventRecording: Sendable {
    /// No events: a resync writes every record again, and none of it is news.
    case off
    /// This host made the change (a single host's write, a cluster host applying its own committed write): its
    /// events are this host's to deliver by webhook.
    case local
    /// Another cluster host made the change and the feed brought it: recorded (for `events.list` and `watch`
    /// here), delivered by the host that made it.
    case replicated
}
