import ArgumentParser
import Foundation
import SQLiteStore

/// `otelsink backup --db PATH OUT`: a consistent copy of a database, safe while a server writes to it.
struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Copy a database into one self-contained file, while the server keeps running.",
        discussion: """
            The copy is a snapshot of the last commit before it began (SQLite's VACUUM INTO), compacted, without a WAL; \
            OUT must not exist. To restore: stop otelsink, move the old file and its -wal and -shm files away, put \
            the copy at the database's path, start otelsink.
            """)

    @Option(help: "The SQLite database to copy (opened read-only).")
    var db: String = "./otelsink-data/traces.db"

    @Argument(help: "The file to write (a new path).")
    var out: String

    func run() async throws {
        do {
            let summary = try DatabaseBackup.copy(from: db, to: out)
            print("copied \(db) to \(out): \(summary.spans) spans, \(summary.logRecords) log records, \(summary.bytes) bytes")
        } catch {
            CLIError.exit(CLIError.storage("\(error)"))
        }
    }
}
