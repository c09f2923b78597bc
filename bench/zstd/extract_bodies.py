"""Writes the span bodies of an otelsink database stored with `compression: none` (the first 20,000 rows of its
first spans partition) as 4-byte little-endian lengths and bytes, for bench/zstd/zstd_frames.c.

    python3 bench/zstd/extract_bodies.py DB OUT
"""
import sqlite3
import struct
import sys

db_path, out_path = sys.argv[1], sys.argv[2]
db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'spans\\_%' ESCAPE '\\' ORDER BY name")]
if not tables:
    sys.exit(f"{db_path}: no spans partition")
rows = db.execute(f"SELECT body FROM {tables[0]} ORDER BY rowid LIMIT 20000").fetchall()
if rows and rows[0][0][:1] == b"\x00":
    print("warning: bodies look compressed; store them with compression: none", file=sys.stderr)
with open(out_path, "wb") as f:
    for (body,) in rows:
        f.write(struct.pack("<I", len(body)))
        f.write(body)
print(f"{len(rows)} bodies, {sum(len(b) for (b,) in rows) / max(1, len(rows)):.0f} bytes on average")
