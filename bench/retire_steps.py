"""SQLite's cost of emptying a dropped partition in steps, as otelsink's retention does (Sources/SQLiteStore/
RetiredTables.swift): renames one partition's tables of a store to `retired_x_<name>`, then deletes their rows
ROWS at a time, a transaction per step, dropping each table once empty; prints the rename's time, the number of
steps, their total and median / p99 / max. Modifies the file: run it on a copy.

    cp /tmp/big/traces.db /tmp/copy.db && python3 bench/retire_steps.py /tmp/copy.db 4096
"""

import sqlite3
import statistics
import sys
import time


def main() -> None:
    path = sys.argv[1]
    rows = int(sys.argv[2]) if len(sys.argv) > 2 else 1024
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA synchronous=NORMAL")
    names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    bucket = next(n.split("_")[1] for n in names if n.startswith("traces_"))
    tables = [n for n in names if n.endswith(f"_{bucket}") and not n.startswith("retired")]
    t0 = time.perf_counter()
    con.execute("BEGIN")
    for t in tables:
        con.execute(f"ALTER TABLE {t} RENAME TO retired_x_{t}")
    con.execute("DELETE FROM partitions WHERE bucket = ?", (int(bucket),))
    con.execute("COMMIT")
    print(f"rename of {len(tables)} tables: {1000 * (time.perf_counter() - t0):.1f} ms")
    steps = []
    start = time.perf_counter()
    for t in (f"retired_x_{t}" for t in tables):
        key = [r[0] for r in con.execute("SELECT name, pk FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk", (t,))]
        cols = ", ".join(f'"{k}"' for k in key) if key else "rowid"
        tup = f"({cols})" if len(key) > 1 else cols
        while True:
            s = time.perf_counter()
            con.execute("BEGIN")
            n = con.execute(f"DELETE FROM {t} WHERE {tup} IN (SELECT {cols} FROM {t} LIMIT ?)", (rows,)).rowcount
            if n == 0:
                con.execute(f"DROP TABLE {t}")
            con.execute("COMMIT")
            steps.append(time.perf_counter() - s)
            if n == 0:
                break
    q = sorted(steps)
    print(f"steps {len(q)}, total {time.perf_counter() - start:.1f} s, median {1000 * statistics.median(q):.1f} ms, "
          f"p99 {1000 * q[int(len(q) * 0.99)]:.1f} ms, max {1000 * q[-1]:.1f} ms")


if __name__ == "__main__":
    main()
