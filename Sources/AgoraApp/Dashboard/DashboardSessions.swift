internal import AgoraCore
internal import Crypto
internal import Synchronization

/// Who is logged in to the dashboard: a random session token (the cookie) per login, with
/// the account, its CSRF token and when it expires.
///
/// In memory only: a restart logs everyone out, which is what an operator expects of a
/// console on a gateway, and no session secret ever reaches the disk. Bounded: beyond
/// `maxSessions` the oldest login is dropped.
final class DashboardSessions: Sendable {
    struct Session: Sendable {
        let account: BareJID
        let csrf: String
        let expires: ContinuousClock.Instant
    }

    static let cookieName = "agora_session"
    static let lifetime: Duration = .seconds(12 * 3600)
    private let sessions = Mutex<[String: Session]>([:])
    private let maxSessions: Int

    init(maxSessions: Int = 1000) { self.maxSessions = maxSessions }

    /// Starts a session for `account`; returns its token (for the cookie).
    func start(for account: BareJID) -> String {
        let token = Self.randomToken()
        let session = Session(account: account, csrf: Self.randomToken(), expires: .now + Self.lifetime)
        sessions.withLock { table in
            let now = ContinuousClock.now
            table = table.filter { $0.value.expires > now }
            if table.count >= maxSessions, let oldest = table.min(by: { $0.value.expires < $1.value.expires })?.key {
                table[oldest] = nil
            }
            table[token] = session
        }
        return token
    }

    /// The live session of `token`, if any. Tokens are compared as dictionary keys: they are
    /// 256 random bits, so a timing difference reveals nothing a guess could use.
    func session(_ token: String?) -> Session? {
        guard let token, token.utf8.count == 64 else { return nil }
        return sessions.withLock { table in
            guard let session = table[token] else { return nil }
            guard session.expires > .now else {
                table[token] = nil
                return nil
            }
            return session
        }
    }

    func end(_ token: String) { _ = sessions.withLock { $0.removeValue(forKey: token) } }

    /// The `Set-Cookie` value for `token` (or one that clears the cookie).
    static func cookie(_ token: String?) -> String {
        guard let token else { return "\(cookieName)=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0" }
        return "\(cookieName)=\(token); Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=\(Int(lifetime.components.seconds))"
    }

    static func randomToken() -> String {
        Hex.encode(SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) })
    }
}
