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
        let credential: Credential
        let csrf: String
        let expires: ContinuousClock.Instant
    }

    /// What a session was opened with, re-checked on every request (`DashboardLogin.stillValid`).
    enum Credential: Sendable, Equatable {
        case password(storedKey: [UInt8])
        case certificate(der: [UInt8])
    }

    /// Sessions one account may hold; a further login ends its own oldest, never another's.
    static let maxPerAccount = 8

    static let cookieName = "agora_session"
    static let lifetime: Duration = .seconds(12 * 3600)
    private let sessions = Mutex<[String: Session]>([:])
    private let maxSessions: Int

    init(maxSessions: Int = 1000) { self.maxSessions = maxSessions }

    /// Starts a session for `account`; returns its token (for the cookie).
    func start(for account: BareJID, credential: Credential) -> String {
        let token = Self.randomToken()
        let session = Session(account: account, credential: credential, csrf: Self.randomToken(), expires: .now + Self.lifetime)
        sessions.withLock { table in
            let now = ContinuousClock.now
            table = table.filter { $0.value.expires > now }
            let own = table.filter { $0.value.account == account }
            if own.count >= Self.maxPerAccount, let oldest = own.min(by: { $0.value.expires < $1.value.expires })?.key {
                table[oldest] = nil
            }
            // Full with others' sessions: this login waits for one to end rather than end it.
            guard table.count < maxSessions else { return }
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

    func end(_ token: String) {
        _ = sessions.withLock { $0.removeValue(forKey: token) }
        _ = answers.withLock { $0.removeValue(forKey: token) }
    }

    /// The last overview each session was sent, so a page reloaded in a loop (or many tabs)
    /// costs one store read per `answerReuse`, not one per request.
    private let answers = Mutex<[String: (page: Int, at: ContinuousClock.Instant, body: [UInt8])]>([:])
    static let answerReuse: Duration = .seconds(5)

    /// `make()`'s answer for this session and page, or the one it gave within `answerReuse`.
    func overview(for token: String, page: Int, _ make: () throws -> [UInt8]) rethrows -> [UInt8] {
        let now = ContinuousClock.now
        if let recent = answers.withLock({ $0[token] }), recent.page == page, now - recent.at < Self.answerReuse { return recent.body }
        let body = try make()
        answers.withLock { table in
            if table.count >= maxSessions { table = table.filter { now - $0.value.at < Self.answerReuse } }
            table[token] = (page, now, body)
        }
        return body
    }

    /// The `Set-Cookie` value for `token` (or one that clears the cookie).
    static func cookie(_ token: String?) -> String {
        guard let token else { return "\(cookieName)=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0" }
        return "\(cookieName)=\(token); Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=\(Int(lifetime.components.seconds))"
    }

    static func randomToken() -> String {
        Hex.encode(SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) })
    }
}
