public import AgoraCore
internal import AgoraMarket
internal import AgoraXMPP

/// XMPP passwords: stored only as SCRAM keys (`xmpp.credentials`), never on the ledger,
/// never logged. An account must exist (a ledger entry) before it can have a password.
extension Gateway {
    public func setPassword(_ password: String, for jid: BareJID) async throws {
        guard try market.read({ try $0.account(jid) }) != nil else { throw MarketRefusal.unknownAccount(jid) }
        try Self.checkPassword(password)
        try await CredentialStore(store: store).set(try SCRAMCredentials.derive(password: password), for: jid)
    }

    /// At least 8 characters, printable, no longer than 1024 bytes.
    public static func checkPassword(_ password: String) throws {
        guard password.count >= 8, password.utf8.count <= 1024,
              password.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7F }) else {
            throw MarketRefusal.invalid(.outOfRange("password", reason: "must be 8…1024 bytes of printable characters"))
        }
    }

    /// 20 random characters from an alphabet without look-alikes (about 115 bits).
    public static func generatePassword() -> String {
        let alphabet = Array("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
        var generator = SystemRandomNumberGenerator()
        return String((0..<20).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] })
    }
}
