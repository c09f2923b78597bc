import Foundation
import GRDB

/// The tables of partitions retention has dropped, emptied 1,024 rows at a time.
///
/// `DROP TABLE` reads every page of the table to free it: for a partition of 10.2M spans that held the writer for
/// 8–20 s (docs/performance.md), and no export was committed meanwhile. Retention instead renames a dropped
/// partition's tables to `retired_<token>_<name>` in one short transaction — from then on no reader or writer sees
/// them (the partition is gone from `partitions`, and the names match none of the partition tables' patterns), and
/// the partition's number may be used again at once — then deletes their rows in steps of bounded time between
/// commits, and drops each once it is empty. Retired tables left by a stop are emptied after the next start.
///
/// Partitions made by an earlier otelsink have indexes (on their spans, logs or trace IDs), whose names would stay
/// and mislead the layout checks of a partition made again with that number: those are dropped at once, as before.
enum RetiredTables {
    static let prefix = "retired_"
    /// Rows one statement deletes: about a hundred pages of a spans table (~1 ms at 10M spans).
    static let rowsPerStep = 1024

    /// Renames the tables of partition `bucket` (`tables`: those it may have) out of the way, unless one of them has
    /// an index of its own; false then, and nothing was renamed.
    static func retire(_ db: Database, tables: [String]) throws -> Bool {
        let existing = try tables.filter { try db.tableExists($0) }
        let placeholders = databaseQuestionMarks(count: existing.count)
        let indexed =
            try !existing.isEmpty
            && Bool.fetchOne(
                db, sql: "SELECT EXISTS(SELECT 1 FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN (\(placeholders)))",
                arguments: StatementArguments(existing)) == true
        guard !indexed else { return false }
        let token = String(UInt64.random(in: .min ... .max), radix: 16)
        for table in existing {
            try db.execute(sql: "ALTER TABLE \(table) RENAME TO \(prefix)\(token)_\(table)")
        }
        return true
    }

    /// The retired tables the file holds.
    static func names(_ db: Database) throws -> [String] {
        try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'retired\\_%' ESCAPE '\\' ORDER BY name")
    }

    /// Deletes up to `rowsPerStep` rows of retired table `table`, or drops it when it is empty. True when dropped.
    static func step(_ db: Database, table: String, rows: Int = rowsPerStep) throws -> Bool {
        // By the primary key (WITHOUT ROWID tables have nothing else; for an INTEGER PRIMARY KEY it is the rowid), or
        // the rowid for tables without one.
        let key = try Row.fetchAll(db, sql: "SELECT name, pk FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk", arguments: [table])
            .map { "\"\($0[0] as String)\"" }
        let columns = key.isEmpty ? "rowid" : key.joined(separator: ", ")
        let tuple = key.count > 1 ? "(\(columns))" : columns
        try db.execute(
            sql: "DELETE FROM \(table) WHERE \(tuple) IN (SELECT \(columns) FROM \(table) LIMIT ?)", arguments: [rows])
        guard db.changesCount == 0 else { return false }
        try db.execute(sql: "DROP TABLE \(table)")
        return true
    }
}
