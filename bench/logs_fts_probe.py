"""Measures what SQLite's FTS5 full-text index would cost log ingest, against a substring scan (the choice behind
the logs tables in docs/architecture.md): 200,000 lines of 200 bytes inserted in transactions of 5,000, without an
index, with an FTS5 trigram index (substring search) and with FTS5's default word tokenizer (whole words only);
then one substring query. Uses Python's sqlite3 (the system SQLite); takes about a minute.

    python3 bench/logs_fts_probe.py
"""
import sqlite3, time, random, os
random.seed(7)
words = ["order","accepted","cache","miss","upstream","answered","payment","retrying","request","lorem","ipsum","dolor","sit","amet","user","id","timeout","db","query","slow"]
lines = [" ".join(random.choice(words) for _ in range(30))[:200] for _ in range(200_000)]
def run(kind):
    path=f"/tmp/fts_{kind}.db"
    for suffix in ("","-wal","-shm"):
        try: os.remove(path+suffix)
        except FileNotFoundError: pass
    db=sqlite3.connect(path); db.execute("PRAGMA journal_mode=WAL"); db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE logs(id INTEGER PRIMARY KEY, t INTEGER, line TEXT)")
    db.execute("CREATE INDEX logs_t ON logs(t)")
    if kind=="trigram": db.execute("CREATE VIRTUAL TABLE logs_fts USING fts5(line, content='logs', content_rowid='id', tokenize='trigram')")
    if kind=="unicode": db.execute("CREATE VIRTUAL TABLE logs_fts USING fts5(line, content='logs', content_rowid='id')")
    t0=time.process_time()
    for i in range(0,len(lines),5000):
        with db:
            db.executemany("INSERT INTO logs(id,t,line) VALUES (?,?,?)", [(j+1,j,lines[j]) for j in range(i,i+5000)])
            if kind!="none": db.executemany("INSERT INTO logs_fts(rowid,line) VALUES (?,?)", [(j+1,lines[j]) for j in range(i,i+5000)])
    cpu=time.process_time()-t0
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size=os.path.getsize(path)
    t0=time.perf_counter()
    if kind=="none": n=db.execute("SELECT count(*) FROM logs WHERE instr(line,'timeout db')>0").fetchone()[0]
    else: n=db.execute("SELECT count(*) FROM logs_fts WHERE logs_fts MATCH '\"timeout db\"'").fetchone()[0]
    q=time.perf_counter()-t0
    print(f"{kind:8s} insert CPU {cpu/len(lines)*1e6:6.2f} us/row  file {size/len(lines):6.0f} B/row  substring query over 200k rows {q*1000:7.1f} ms ({n} hits)")
for k in ("none","trigram","unicode"): run(k)
