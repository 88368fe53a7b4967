public import AgoraCore
internal import NIOConcurrencyHelpers

/// Every bound session, by account and resource, and by XEP-0198 stream id: the routing
/// table. Shared by all event loops behind one lock; lookups copy out the few sessions
/// they need, so no routing work happens under the lock.
public final class SessionRegistry: Sendable {
    private struct Table {
        var byAccount: [BareJID: [String: Session]] = [:]
        var byStreamID: [String: Session] = [:]
        var count = 0
    }

    private let table = NIOLockedValueBox(Table())

    public init() {}

    public var count: Int { table.withLockedValue { $0.count } }

    /// Adds `session`; returns the session it replaces (same full JID), which the caller
    /// closes with a `conflict` stream error (RFC 6120 §7.7.2.2, "override").
    func add(_ session: Session) -> Session? {
        table.withLockedValue { table in
            let resource = session.jid.resource ?? ""
            let previous = table.byAccount[session.bare]?[resource]
            if let previous { table.byStreamID[previous.streamID] = nil } else { table.count += 1 }
            table.byAccount[session.bare, default: [:]][resource] = session
            table.byStreamID[session.streamID] = session
            return previous
        }
    }

    /// Removes `session` if it is still the registered one for its full JID.
    func remove(_ session: Session) {
        table.withLockedValue { table in
            let resource = session.jid.resource ?? ""
            guard table.byAccount[session.bare]?[resource] === session else { return }
            table.byAccount[session.bare]?[resource] = nil
            if table.byAccount[session.bare]?.isEmpty == true { table.byAccount[session.bare] = nil }
            table.byStreamID[session.streamID] = nil
            table.count -= 1
        }
    }

    public func session(_ jid: JID) -> Session? {
        guard let bare = jid.bare, let resource = jid.resource else { return nil }
        return table.withLockedValue { $0.byAccount[bare]?[resource] }
    }

    public func sessions(of account: BareJID) -> [Session] {
        table.withLockedValue { table in table.byAccount[account].map { Array($0.values) } ?? [] }
    }

    func session(streamID: String) -> Session? {
        table.withLockedValue { $0.byStreamID[streamID] }
    }

    public func allSessions() -> [Session] {
        table.withLockedValue { table in table.byAccount.values.flatMap { $0.values } }
    }

    /// The available resources with the highest non-negative priority (RFC 6121 §8.5.2.1.1).
    public func preferredSessions(of account: BareJID) -> [Session] {
        let candidates = sessions(of: account).filter { $0.isAvailable && $0.priority >= 0 }
        guard let top = candidates.map(\.priority).max() else { return [] }
        return candidates.filter { $0.priority == top }
    }
}
