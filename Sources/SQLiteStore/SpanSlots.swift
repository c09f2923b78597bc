import GRDB
import GRDBSQLite

/// Where a span's row is in a partition whose rows are clustered by trace (made by schema version 9 and later):
/// its rowid is the trace's number in the partition shifted left 32 bits, plus a slot given by its span ID. A
/// trace's rows are one rowid range, so reading a trace, finding a parent span and telling a retried span apart need
/// no index on (trace number, span ID); that index cost ~0.4 µs of SQLite's CPU per span (`bench/sqlite/span_rows.c`).
///
/// A span's slot is the first of ``probes`` places: a span ID whose first place holds another span of the trace
/// takes the next free one, and a span stored again (a retried export) is found at one of them. The slot mixes the
/// span ID with a random key made once per database file (`meta`), so a client cannot choose IDs that crowd one
/// trace's places (random IDs share a first place about once per 4 billion pairs of spans in a trace). A span whose
/// every place holds another span of its trace is not stored (and logged): only a 65th ID landing in one window of 64
/// places, which random IDs do not do.
enum SpanSlots {
    /// Places tried per span.
    static let probes: Int64 = 64
    /// Slots a span ID maps to: every place tried stays below 2^32, inside its trace's range.
    static let slotCount: UInt64 = (1 << 32) - UInt64(probes)
    /// Trace numbers above this cannot be shifted into a rowid (a partition would need 2^31 traces).
    static let maxTraceNumber: Int64 = (1 << 31) - 1
    /// The SQL function `otelsink_span_slot(span_id, key)`: ``slot(_:key:)`` of an 8-byte blob, NULL for anything else.
    static let functionName = "otelsink_span_slot"
    /// The `meta` row holding the file's key.
    static let metaKey = "span_slot_key"

    /// The key of the database `db` (nil in a file made before version 9, which has no clustered partition).
    static func key(_ db: Database) throws -> Int64? {
        try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = ?", arguments: [metaKey]).flatMap { Int64($0) }
    }

    /// The first place of span ID `id` (8 bytes, as stored) under `key`: MurmurHash3's 64-bit finalizer of the ID
    /// mixed with the key (IDs that differ in a few bits land far apart), reduced to ``slotCount``.
    static func slot(_ id: UnsafeRawBufferPointer, key: Int64) -> Int64 {
        var k = UInt64(littleEndian: id.loadUnaligned(as: UInt64.self)) ^ UInt64(bitPattern: key)
        k ^= k >> 33
        k = k &* 0xff51_afd7_ed55_8ccd
        k ^= k >> 33
        k = k &* 0xc4ce_b9fe_1a85_ec53
        k ^= k >> 33
        return Int64((k >> 32) % slotCount)
    }

    /// The lowest rowid of trace number `seq`'s rows (nil when `seq` cannot be shifted into a rowid).
    static func firstRow(seq: Int64) -> Int64? {
        guard seq >= 0, seq <= maxTraceNumber else { return nil }
        return seq << 32
    }

    /// The highest rowid of trace number `seq`'s rows.
    static func lastRow(seq: Int64) -> Int64? {
        firstRow(seq: seq).map { $0 | placeMask }
    }

    /// The bits of a rowid that hold its place among its trace's rows.
    static let placeMask: Int64 = 0xFFFF_FFFF

    /// Registers `otelsink_span_slot` on `db` (every connection that runs the queries using it).
    static func register(on db: Database) throws {
        let rc = sqlite3_create_function_v2(
            db.sqliteConnection, functionName, 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, nil,
            { context, count, arguments in
                guard count == 2, let arguments, let value = arguments[0], let key = arguments[1],
                    sqlite3_value_type(value) == SQLITE_BLOB, sqlite3_value_bytes(value) == 8,
                    sqlite3_value_type(key) == SQLITE_INTEGER, let bytes = sqlite3_value_blob(value)
                else {
                    sqlite3_result_null(context)
                    return
                }
                let id = UnsafeRawBufferPointer(start: bytes, count: 8)
                sqlite3_result_int64(context, SpanSlots.slot(id, key: sqlite3_value_int64(key)))
            }, nil, nil, nil)
        guard rc == SQLITE_OK else {
            throw DatabaseError(resultCode: ResultCode(rawValue: rc), message: "could not register \(functionName)")
        }
    }
}
