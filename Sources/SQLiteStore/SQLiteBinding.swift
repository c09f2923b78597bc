import GRDB
import GRDBSQLite

// The bound buffers live for the duration of sqlite3_step (the batch's bytes are held by the caller), so
// SQLITE_STATIC (nil) is safe.
func bindBlob(_ stmt: OpaquePointer?, _ index: Int32, _ buffer: UnsafeRawBufferPointer, _ range: Range<Int>) {
    if let base = buffer.baseAddress, !range.isEmpty {
        sqlite3_bind_blob(stmt, index, base + range.lowerBound, Int32(range.count), nil)
    } else {
        sqlite3_bind_zeroblob(stmt, index, 0)
    }
}

func bindText(_ stmt: OpaquePointer?, _ index: Int32, _ buffer: UnsafeRawBufferPointer, _ range: Range<Int>) {
    if let base = buffer.baseAddress, !range.isEmpty {
        sqlite3_bind_text(stmt, index, (base + range.lowerBound).assumingMemoryBound(to: CChar.self), Int32(range.count), nil)
    } else {
        sqlite3_bind_text(stmt, index, "", 0, nil)
    }
}

func bindText(_ stmt: OpaquePointer?, _ index: Int32, _ text: String) {
    var text = text
    _ = text.withUTF8 { utf8 in
        if let base = utf8.baseAddress {
            sqlite3_bind_text(stmt, index, UnsafeRawPointer(base).assumingMemoryBound(to: CChar.self), Int32(utf8.count), sqliteTransient)
        } else {
            sqlite3_bind_text(stmt, index, "", 0, nil)
        }
    }
}

/// SQLITE_TRANSIENT: SQLite copies the value (text bound outside the buffer's lifetime).
let sqliteTransient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// Runs a bound statement that returns no rows, then resets it and clears its bindings; throws SQLite's error.
func stepToCompletion(_ stmt: OpaquePointer?, _ db: Database) throws {
    let rc = sqlite3_step(stmt)
    sqlite3_reset(stmt)
    sqlite3_clear_bindings(stmt)
    guard rc == SQLITE_DONE else {
        throw DatabaseError(resultCode: ResultCode(rawValue: rc), message: String(cString: sqlite3_errmsg(db.sqliteConnection)))
    }
}
