public import AgoraCore

/// Accounts and credits: who exists, with which role, and how credits enter and move.
extension Market {
    /// Opens an account. Operators only.
    public func openAccount(_ jid: BareJID, role: Role, actor: LedgerActor) async throws -> Accepted {
        let time = clock()
        return try await commit { state in
            try Self.requireOperator(actor, state, to: "open accounts")
            guard try state.account(jid) == nil else { throw MarketRefusal.accountExists(jid) }
            return LedgerEntry(time: time, actor: actor, body: .accountOpen(.init(jid: jid, role: role)))
        }
    }

    /// Changes an account's role. Operators only.
    public func changeRole(of jid: BareJID, to role: Role, actor: LedgerActor) async throws -> Accepted {
        let time = clock()
        return try await commit { state in
            try Self.requireOperator(actor, state, to: "change roles")
            guard let account = try state.account(jid) else { throw MarketRefusal.unknownAccount(jid) }
            guard account.role != role else { throw MarketRefusal.nothingToChange("\(jid) already has role \(role)") }
            return LedgerEntry(time: time, actor: actor, body: .accountRole(.init(jid: jid, role: role)))
        }
    }

    /// Creates `amount` new credits on `jid`'s account. Operators only; the total ever
    /// minted stays within `Credits.max`, so no balance can overflow.
    public func mint(_ amount: Credits, to jid: BareJID, memo: String, actor: LedgerActor) async throws -> Accepted {
        let memo = try Self.validated { () throws(InvalidInput) in try TextField.validate(memo, field: "memo", maxBytes: 256) }
        guard amount > .zero else { throw MarketRefusal.invalid(.outOfRange("amount", reason: "must be at least 1 credit")) }
        let time = clock()
        return try await commit { state in
            try Self.requireOperator(actor, state, to: "mint credits")
            guard try state.account(jid) != nil else { throw MarketRefusal.unknownAccount(jid) }
            guard try state.totalMinted().adding(amount) != nil else {
                throw MarketRefusal.amountTooLarge("minting \(amount) would pass the gateway's ceiling of \(Credits.max) credits in circulation")
            }
            return LedgerEntry(time: time, actor: actor, body: .creditMint(.init(to: jid, amount: amount, memo: memo)))
        }
    }

    /// Moves credits from the actor's own account to another. No overdraft.
    public func transfer(_ amount: Credits, from: BareJID, to: BareJID, actor: LedgerActor) async throws -> Accepted {
        guard amount > .zero else { throw MarketRefusal.invalid(.outOfRange("amount", reason: "must be at least 1 credit")) }
        guard actor == .account(from) else { throw MarketRefusal.forbidden("only \(from) may transfer its own credits") }
        guard from != to else { throw MarketRefusal.nothingToChange("cannot transfer credits to the same account") }
        let time = clock()
        return try await commit { state in
            guard try state.account(from) != nil else { throw MarketRefusal.unknownAccount(from) }
            guard try state.account(to) != nil else { throw MarketRefusal.unknownAccount(to) }
            let balance = try state.balance(from)
            guard balance >= amount else { throw MarketRefusal.insufficientCredits(from, balance: balance, needed: amount) }
            return LedgerEntry(time: time, actor: actor, body: .creditTransfer(.init(from: from, to: to, amount: amount)))
        }
    }
}
