/*
 * What SQLite costs per span for candidate layouts of the spans table (issue 19: CPU per span).
 *
 * Inserts N spans shaped as the standard workload stores them (10 spans per trace, 100 per request and one
 * service per request, 5 services, 10 operations, a 42-byte body: the average zstd frame of a standard-workload
 * span with the partition's dictionary, see bench/zstd/) into a fresh WAL database (synchronous=NORMAL, 800 spans
 * per transaction, automatic checkpoints, as otelsink writes), and prints the process's CPU per span (user +
 * system, so the WAL writes and checkpoints are counted), the wall time and the database bytes per span.
 * Only SQLite's work: no protobuf, no compression, no trace summaries or trace-ID table (the same for all).
 *
 * Layouts:
 *   per-span       today's partitions: a rowid table, UNIQUE(trace_seq, span_id) and INDEX(service, start_ns)
 *   without-rowid  PRIMARY KEY(trace_seq, span_id) WITHOUT ROWID, and the service index
 *   clustered      rowid = trace_seq << 32 | slot (a trace's spans together, no unique index), service index
 *   runs           today's table and unique index; instead of the per-span service index, one row per request's
 *                  run of spans (service, a start time, first rowid, last rowid)
 *   clustered-runs clustered, with the runs instead of the service index
 *   no-index       the rows alone (the floor for one row per span)
 *   chunks         one row per trace chunk (the 10 spans of a trace in a request, bodies concatenated), and the
 *                  service index per chunk
 *
 *   gcc -O2 bench/sqlite/span_rows.c -o /tmp/span_rows -lsqlite3
 *   for l in per-span without-rowid clustered runs clustered-runs no-index chunks; do /tmp/span_rows $l 2000000 /tmp/sr.db; done
 */
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

enum layout { PER_SPAN, WITHOUT_ROWID, CLUSTERED, RUNS, CLUSTERED_RUNS, NO_INDEX, CHUNKS, LAYOUTS };
static const char *names[] = {"per-span", "without-rowid", "clustered", "runs", "clustered-runs", "no-index", "chunks"};

static const char *columns =
    "trace_id BLOB NOT NULL, span_id BLOB NOT NULL, parent_span_id BLOB NOT NULL, resource_id INTEGER NOT NULL,"
    " scope_id INTEGER NOT NULL, service TEXT NOT NULL, name TEXT NOT NULL, kind INTEGER NOT NULL,"
    " start_ns INTEGER NOT NULL, duration_ns INTEGER NOT NULL, status_code INTEGER NOT NULL, body BLOB NOT NULL";

static uint64_t state = 88172645463325252ull;
static uint64_t next_random(void) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
}

static double cpu_seconds(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_utime.tv_sec + u.ru_utime.tv_usec * 1e-6 + u.ru_stime.tv_sec + u.ru_stime.tv_usec * 1e-6;
}

static double wall_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static sqlite3 *db;

static void exec(const char *sql) {
    char *error = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &error) != SQLITE_OK) {
        fprintf(stderr, "%s: %s\n", sql, error);
        exit(1);
    }
}

static sqlite3_stmt *prepare(const char *sql) {
    sqlite3_stmt *statement;
    if (sqlite3_prepare_v2(db, sql, -1, &statement, NULL) != SQLITE_OK) {
        fprintf(stderr, "%s: %s\n", sql, sqlite3_errmsg(db));
        exit(1);
    }
    return statement;
}

static void step(sqlite3_stmt *statement) {
    if (sqlite3_step(statement) != SQLITE_DONE) {
        fprintf(stderr, "step: %s\n", sqlite3_errmsg(db));
        exit(1);
    }
    sqlite3_reset(statement);
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s LAYOUT SPANS PATH\n", argv[0]);
        return 2;
    }
    int layout = -1;
    for (int i = 0; i < LAYOUTS; i++)
        if (strcmp(argv[1], names[i]) == 0) layout = i;
    long spans = atol(argv[2]);
    if (layout < 0 || spans < 100) {
        fprintf(stderr, "unknown layout or fewer than 100 spans\n");
        return 2;
    }
    const char *path = argv[3];
    char wal[4096];
    snprintf(wal, sizeof wal, "%s-wal", path);
    remove(path);
    remove(wal);
    if (sqlite3_open(path, &db) != SQLITE_OK) return 1;
    exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA synchronous=NORMAL");

    char sql[2048];
    switch (layout) {
    case PER_SPAN:
    case RUNS:
    case NO_INDEX:
        snprintf(sql, sizeof sql, "CREATE TABLE spans(trace_seq INTEGER NOT NULL, %s)", columns);
        exec(sql);
        if (layout != NO_INDEX) exec("CREATE UNIQUE INDEX spans_id ON spans(trace_seq, span_id)");
        if (layout == PER_SPAN) exec("CREATE INDEX spans_service ON spans(service, start_ns)");
        break;
    case WITHOUT_ROWID:
        snprintf(sql, sizeof sql, "CREATE TABLE spans(trace_seq INTEGER NOT NULL, %s, PRIMARY KEY(trace_seq, span_id)) WITHOUT ROWID", columns);
        exec(sql);
        exec("CREATE INDEX spans_service ON spans(service, start_ns)");
        break;
    case CLUSTERED:
    case CLUSTERED_RUNS:
        snprintf(sql, sizeof sql, "CREATE TABLE spans(id INTEGER PRIMARY KEY, %s)", columns);
        exec(sql);
        if (layout == CLUSTERED) exec("CREATE INDEX spans_service ON spans(service, start_ns)");
        break;
    case CHUNKS:
        exec("CREATE TABLE chunks(id INTEGER PRIMARY KEY, trace_id BLOB NOT NULL, service TEXT NOT NULL, start_ns INTEGER NOT NULL,"
             " max_duration_ns INTEGER NOT NULL, span_count INTEGER NOT NULL, spans BLOB NOT NULL);"
             "CREATE INDEX chunks_service ON chunks(service, start_ns)");
        break;
    }
    sqlite3_stmt *insert = prepare(
        layout == CHUNKS ? "INSERT INTO chunks VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
                         : "INSERT OR IGNORE INTO spans VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)");
    int runs = layout == RUNS || layout == CLUSTERED_RUNS;
    if (runs)
        exec("CREATE TABLE service_runs(service TEXT NOT NULL, start_ns INTEGER NOT NULL, first_id INTEGER NOT NULL, last_id INTEGER NOT NULL);"
             "CREATE INDEX service_runs_start ON service_runs(service, start_ns)");
    sqlite3_stmt *insert_run = runs ? prepare("INSERT INTO service_runs VALUES (?, ?, ?, ?)") : NULL;

    static const char *services[] = {"bench-svc-1", "bench-svc-2", "bench-svc-3", "bench-svc-4", "bench-svc-5"};
    enum { BODY = 42, SPAN_RECORD = BODY + 40, PER_TRACE = 10, PER_REQUEST = 100, PER_TRANSACTION = 800 };
    unsigned char noise[4096];
    for (size_t i = 0; i < sizeof noise; i++) noise[i] = (unsigned char)next_random();
    const int64_t t0 = 1700000000000000000LL;

    double cpu0 = cpu_seconds(), wall0 = wall_seconds();
    exec("BEGIN");
    int64_t trace_seq = 0, run_first = 0, run_last = 0;
    for (long span = 0; span < spans; span += PER_TRACE) {
        trace_seq++;
        const char *service = services[(span / PER_REQUEST) % 5];
        int64_t start = t0 + span * 1000;
        unsigned char trace_id[16];
        for (int k = 0; k < 16; k++) trace_id[k] = (unsigned char)next_random();
        if (layout == CHUNKS) {
            sqlite3_bind_int64(insert, 1, trace_seq << 20);
            sqlite3_bind_blob(insert, 2, trace_id, 16, SQLITE_STATIC);
            sqlite3_bind_text(insert, 3, service, -1, SQLITE_STATIC);
            sqlite3_bind_int64(insert, 4, start);
            sqlite3_bind_int64(insert, 5, 1000000 + (int64_t)(next_random() % 1000000));
            sqlite3_bind_int64(insert, 6, PER_TRACE);
            sqlite3_bind_blob(insert, 7, noise + next_random() % 2048, PER_TRACE * SPAN_RECORD, SQLITE_STATIC);
            step(insert);
        } else {
            for (int s = 0; s < PER_TRACE; s++) {
                unsigned char span_id[8], parent_id[8];
                for (int k = 0; k < 8; k++) {
                    span_id[k] = (unsigned char)next_random();
                    parent_id[k] = (unsigned char)next_random();
                }
                uint32_t slot;
                memcpy(&slot, span_id, 4);
                int clustered = layout == CLUSTERED || layout == CLUSTERED_RUNS;
                int64_t id = clustered ? trace_seq << 32 | slot : trace_seq;
                char name[32];
                int length = snprintf(name, sizeof name, "GET /api/operation-%d", (int)(next_random() % 10));
                sqlite3_bind_int64(insert, 1, id);
                sqlite3_bind_blob(insert, 2, trace_id, 16, SQLITE_STATIC);
                sqlite3_bind_blob(insert, 3, span_id, 8, SQLITE_STATIC);
                sqlite3_bind_blob(insert, 4, parent_id, 8, SQLITE_STATIC);
                sqlite3_bind_int64(insert, 5, 1);
                sqlite3_bind_int64(insert, 6, 1);
                sqlite3_bind_text(insert, 7, service, -1, SQLITE_STATIC);
                sqlite3_bind_text(insert, 8, name, length, SQLITE_TRANSIENT);
                sqlite3_bind_int64(insert, 9, 2);
                sqlite3_bind_int64(insert, 10, start + s);
                sqlite3_bind_int64(insert, 11, 1000000 + (int64_t)(next_random() % 1000000));
                sqlite3_bind_int64(insert, 12, 0);
                sqlite3_bind_blob(insert, 13, noise + next_random() % 2048, BODY, SQLITE_STATIC);
                step(insert);
                int64_t row = clustered ? id : sqlite3_last_insert_rowid(db);
                if (s == 0 && span % PER_REQUEST == 0) run_first = row;
                run_last = row;
            }
        }
        if ((span + PER_TRACE) % PER_REQUEST == 0 && insert_run) {
            sqlite3_bind_text(insert_run, 1, service, -1, SQLITE_STATIC);
            sqlite3_bind_int64(insert_run, 2, start);
            sqlite3_bind_int64(insert_run, 3, run_first);
            sqlite3_bind_int64(insert_run, 4, run_last);
            step(insert_run);
        }
        if ((span + PER_TRACE) % PER_TRANSACTION == 0) {
            exec("COMMIT");
            exec("BEGIN");
        }
    }
    exec("COMMIT");
    double cpu = cpu_seconds() - cpu0, wall = wall_seconds() - wall0;
    sqlite3_finalize(insert);
    if (insert_run) sqlite3_finalize(insert_run);
    sqlite3_close(db);
    FILE *file = fopen(path, "rb");
    long size = 0;
    if (file) {
        fseek(file, 0, SEEK_END);
        size = ftell(file);
        fclose(file);
    }
    printf("%-14s %6.2f us CPU/span  %6.2f us wall/span  %5.0f database bytes/span\n", names[layout], cpu * 1e6 / spans,
           wall * 1e6 / spans, (double)size / spans);
    return 0;
}
