public import AgoraCore

/// Sensors: registration, owner updates, freezing.
extension Market {
    /// Registers a sensor. Operators register for any owner; an owner may register its own.
    public func registerSensor(_ registration: LedgerEntry.SensorRegistration, actor: LedgerActor) async throws -> Accepted {
        let registration = try Self.validated { () throws(InvalidInput) in try Self.checked(registration) }
        let time = clock()
        return try await commit { state in
            if actor != .account(registration.owner) {
                try Self.requireOperator(actor, state, to: "register sensors for other accounts")
            }
            guard let owner = try state.account(registration.owner) else { throw MarketRefusal.unknownAccount(registration.owner) }
            guard owner.role.mayOwnSensors else {
                throw MarketRefusal.forbidden("\(registration.owner) is a consumer; only owners and operators own sensors")
            }
            guard try state.sensor(registration.sensor) == nil else { throw MarketRefusal.sensorExists(registration.sensor) }
            return LedgerEntry(time: time, actor: actor, body: .sensorRegister(registration))
        }
    }

    /// Changes a sensor's price, URL, owner, name or location. Only its owner may.
    public func updateSensor(_ update: LedgerEntry.SensorUpdate, actor: LedgerActor) async throws -> Accepted {
        if let url = update.url { _ = try Self.validated { () throws(InvalidInput) in try TextField.validateURL(url) } }
        if let name = update.name { _ = try Self.validated { () throws(InvalidInput) in try TextField.validate(name, field: "name", maxBytes: 128) } }
        let time = clock()
        return try await commit { state in
            guard let sensor = try state.sensor(update.sensor) else { throw MarketRefusal.unknownSensor(update.sensor) }
            guard actor == .account(sensor.owner) else {
                throw MarketRefusal.forbidden("only the owner \(sensor.owner) may change sensor \(update.sensor)")
            }
            if let newOwner = update.owner {
                guard let account = try state.account(newOwner) else { throw MarketRefusal.unknownAccount(newOwner) }
                guard account.role.mayOwnSensors else { throw MarketRefusal.forbidden("\(newOwner) is a consumer and cannot own sensors") }
            }
            let lat = update.lat ?? sensor.registration.lat
            let lon = update.lon ?? sensor.registration.lon
            guard (lat == nil) == (lon == nil) else {
                throw MarketRefusal.invalid(.outOfRange("location", reason: "give both latitude and longitude, or neither"))
            }
            guard update != LedgerEntry.SensorUpdate(sensor: update.sensor) else {
                throw MarketRefusal.nothingToChange("the update changes no field")
            }
            return LedgerEntry(time: time, actor: actor, body: .sensorUpdate(update))
        }
    }

    /// Freezes a sensor: it cannot be bought, and its readings are not ingested. Operators only.
    public func freezeSensor(_ id: SensorID, reason: String, actor: LedgerActor) async throws -> Accepted {
        try await setFrozen(id, true, reason: reason, actor: actor)
    }

    public func unfreezeSensor(_ id: SensorID, reason: String = "", actor: LedgerActor) async throws -> Accepted {
        try await setFrozen(id, false, reason: reason, actor: actor)
    }

    private func setFrozen(_ id: SensorID, _ frozen: Bool, reason: String, actor: LedgerActor) async throws -> Accepted {
        let reason = try Self.validated { () throws(InvalidInput) in try TextField.validate(reason, field: "reason", maxBytes: 256, allowEmpty: !frozen) }
        let time = clock()
        return try await commit { state in
            try Self.requireOperator(actor, state, to: frozen ? "freeze sensors" : "unfreeze sensors")
            guard let sensor = try state.sensor(id) else { throw MarketRefusal.unknownSensor(id) }
            let change = LedgerEntry.SensorStatusChange(sensor: id, reason: reason)
            if frozen {
                guard !sensor.frozen else { throw MarketRefusal.sensorFrozen(id) }
                return LedgerEntry(time: time, actor: actor, body: .sensorFreeze(change))
            }
            guard sensor.frozen else { throw MarketRefusal.sensorNotFrozen(id) }
            return LedgerEntry(time: time, actor: actor, body: .sensorUnfreeze(change))
        }
    }

    /// The field checks every registration passes (also used for pairing invitations).
    public static func checked(_ r: LedgerEntry.SensorRegistration) throws(InvalidInput) -> LedgerEntry.SensorRegistration {
        _ = try TextField.validate(r.kind, field: "kind", maxBytes: 64, allowEmpty: false)
        _ = try TextField.validate(r.name, field: "name", maxBytes: 128)
        _ = try TextField.validate(r.unit, field: "unit", maxBytes: 32)
        _ = try TextField.validateURL(r.url)
        _ = try TextField.validate(r.cert, field: "certificate serial", maxBytes: 64)
        guard (r.lat == nil) == (r.lon == nil) else {
            throw .outOfRange("location", reason: "give both latitude and longitude, or neither")
        }
        return r
    }
}
