internal import AgoraCore
internal import AgoraLedger
internal import AgoraMarket
internal import AgoraStore
internal import AgoraXMPP
internal import Logging

/// Turns whatever a service operation threw into the stanza error its requester gets: the
/// market's and the ledger's refusals keep their reason as `<text>`; anything unexpected is
/// logged here and answered `internal-server-error` without details (they may name files).
enum IQFailure {
    static func stanzaError(for error: any Error, logger: Logger) -> StanzaError {
        switch error {
        case let error as StanzaError:
            return error
        case let refusal as MarketRefusal:
            return StanzaError(condition(of: refusal.code), refusal.description)
        case let denial as AccessDenial:
            return StanzaError(condition(of: denial.code), denial.description)
        case let error as InvalidInput:
            return StanzaError(.badRequest, error.description)
        case let error as LedgerError where error.isNotFound:
            return StanzaError(.itemNotFound, error.description)
        case let error as StoreError where error.isOutOfSpace:
            // The writer has logged the episode once; the requester may retry later (type 'wait').
            return StanzaError(.resourceConstraint, "the gateway's storage is full; nothing was changed, try again later")
        default:
            logger.error("service operation failed", metadata: ["error": "\(error)"])
            return StanzaError(.internalServerError, "the gateway could not complete the request")
        }
    }

    /// RFC 6120 §8.3.3 conditions for the market's refusals.
    static func condition(of code: MarketRefusal.Code) -> StanzaError.Condition {
        switch code {
        case .invalidInput, .invalidWindow, .nothingToChange: .badRequest
        case .unknownAccount, .unknownSensor: .itemNotFound
        case .accountExists, .sensorExists, .requestConflict: .conflict
        case .forbidden: .forbidden
        case .certificateHeld: .policyViolation
        case .insufficientCredits, .amountTooLarge, .priceAboveLimit: .notAcceptable
        case .sensorFrozen, .sensorNotFrozen: .notAllowed
        }
    }

    /// RFC 6120 §8.3.3 conditions for the access policy's refusals: an unknown sensor is
    /// not found; everything else, an unknown reader included, is forbidden.
    static func condition(of code: AccessDenial.Code) -> StanzaError.Condition {
        switch code {
        case .unknownSensor: .itemNotFound
        case .unknownAccount, .notPurchased, .notConcerned: .forbidden
        }
    }
}

extension IQContext {
    /// A reply computed off the event loop (writes, waits): refusals become stanza errors.
    func later(_ body: @escaping @Sendable () async throws -> XMLElement?) -> IQReply {
        .later { [logger] in
            do { return .result(try await body()) } catch { return .error(IQFailure.stanzaError(for: error, logger: logger)) }
        }
    }

    /// A reply computed at once (reads of the memory-mapped store take microseconds).
    func now(_ body: () throws -> XMLElement?) -> IQReply {
        do { return .result(try body()) } catch { return .error(IQFailure.stanzaError(for: error, logger: logger)) }
    }
}
