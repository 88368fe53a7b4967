extension Duration {
    /// The duration in seconds, as a Double (for rates, ages and metrics).
    public var secondsValue: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }

    /// The duration in whole nanoseconds (for timers that count them).
    public var nanosecondsValue: Int64 { components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000 }
}
