public import Logging

/// Agora's store: the one LMDB environment, its tables, and its one writer.
///
/// Open it once per process. Reads run on the caller's thread (`read`); writes go through
/// the group-commit writer (`write`) and return once durable. The writer's thread starts
/// with the first write, so a store opened only to read never starts one.
public final class Store: Sendable {
    public let environment: LMDBEnvironment
    public let tables: Tables
    public let writer: GroupCommitWriter

    /// The file name of the data file inside the state directory.
    public static let fileName = "agora.mdb"

    public init(path: String, options: LMDBEnvironment.Options = .init(),
                writerOptions: GroupCommitWriter.Options = .init(), logger: Logger) throws(StoreError) {
        do {
            environment = try LMDBEnvironment(path: path, options: options)
            tables = try Tables(environment: environment)
        } catch {
            throw .lmdb(error)
        }
        writer = GroupCommitWriter(environment: environment, options: writerOptions, logger: logger)
    }

    /// Runs `body` in a read transaction (see `LMDBEnvironment.read`).
    public func read<T>(_ body: (ReadTransaction) throws -> T) throws -> T {
        try environment.read(body)
    }

    /// Runs `body` in the next write batch; returns once the batch is durable. With
    /// `sealing`, the batch also seals a checkpoint before its commit (`GroupCommitWriter.SealStep`).
    public func write<T: Sendable>(sealing: Bool = false, _ body: @escaping @Sendable (WriteTransaction) throws -> T) async throws -> T {
        try await writer.submit(sealing: sealing, body)
    }

    /// Drains pending writes and stops the writer, suspending (not blocking) until it has.
    public func shutdown() async {
        await writer.shutdown()
    }

    /// Drains pending writes and stops the writer, blocking the calling thread until it has:
    /// for synchronous teardown (commands, tests). Async code calls `shutdown()`.
    public func close() {
        writer.shutdownBlocking()
    }
}
