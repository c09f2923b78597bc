/*
 * What zstd costs per span body, and what compressing several spans as one frame would save (issue 19).
 *
 * Reads span bodies (as stored by `compression: none`: each a 4-byte little-endian length, then the bytes),
 * trains a 16 KiB dictionary on the first 1,000 as otelsink does, and compresses the rest with it in zstd's
 * magicless format (as ZstdDictionaryCodec does): one frame per body at several levels, then frames of 2, 5, 10
 * and 100 consecutive bodies (the standard workload's traces are 10 consecutive spans). Prints the best of 7
 * passes per variant, in ns per body, and the compressed bytes per body.
 *
 *   OTELSINK_BENCH_COMPRESSION=none OTELSINK_BENCH_DB=/tmp/zf/traces.db \
 *       bench/run-ingest.sh --protocol grpc --rate 0 --concurrency 8 --duration 2s --warmup 0s
 *   python3 bench/zstd/extract_bodies.py /tmp/zf/traces.db /tmp/zf/bodies.bin
 *   gcc -O2 bench/zstd/zstd_frames.c -o /tmp/zf/zstd_frames -lzstd && /tmp/zf/zstd_frames /tmp/zf/bodies.bin
 */
#define ZSTD_STATIC_LINKING_ONLY
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zdict.h>
#include <zstd.h>

#define MAX_BODIES 20000
#define TRAINED 1000

static unsigned char *data;
static size_t offsets[MAX_BODIES], lengths[MAX_BODIES];
static int count;
static unsigned char dictionary[16384];
static size_t dictionary_size;
static unsigned char out[1 << 20], group[1 << 20];

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static void run(int level, int per_frame) {
    ZSTD_CDict *digested = ZSTD_createCDict(dictionary, dictionary_size, level);
    ZSTD_CCtx *context = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(context, ZSTD_c_format, ZSTD_f_zstd1_magicless);
    ZSTD_CCtx_setParameter(context, ZSTD_c_contentSizeFlag, 0);
    ZSTD_CCtx_setParameter(context, ZSTD_c_dictIDFlag, 0);
    ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 0);
    ZSTD_CCtx_refCDict(context, digested);
    double best = 1e9;
    size_t total = 0;
    int bodies = 0;
    for (int pass = 0; pass < 7; pass++) {
        double started = now();
        total = 0;
        bodies = 0;
        for (int i = TRAINED; i + per_frame <= count; i += per_frame) {
            size_t n = 0;
            for (int k = 0; k < per_frame; k++) {
                memcpy(group + n, data + offsets[i + k], lengths[i + k]);
                n += lengths[i + k];
            }
            size_t written = ZSTD_compress2(context, out, sizeof out, group, n);
            if (ZSTD_isError(written)) {
                fprintf(stderr, "zstd: %s\n", ZSTD_getErrorName(written));
                exit(1);
            }
            total += written;
            bodies += per_frame;
        }
        double took = (now() - started) / bodies;
        if (took < best) best = took;
    }
    printf("level %2d, %3d bodies per frame: %5.0f ns per body, %5.1f bytes per body\n", level, per_frame, best * 1e9,
           (double)total / bodies);
    ZSTD_freeCCtx(context);
    ZSTD_freeCDict(digested);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: zstd_frames BODIES_FILE\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    data = malloc(64 << 20);
    size_t size = fread(data, 1, 64 << 20, f);
    fclose(f);
    size_t at = 0;
    while (at + 4 <= size && count < MAX_BODIES) {
        unsigned length;
        memcpy(&length, data + at, 4);
        at += 4;
        if (at + length > size) break;
        offsets[count] = at;
        lengths[count] = length;
        at += length;
        count++;
    }
    if (count < TRAINED + 1000) {
        fprintf(stderr, "need at least %d bodies, found %d\n", TRAINED + 1000, count);
        return 1;
    }
    size_t sizes[TRAINED];
    unsigned char *samples = malloc(16 << 20);
    size_t sampled = 0;
    for (int i = 0; i < TRAINED; i++) {
        memcpy(samples + sampled, data + offsets[i], lengths[i]);
        sizes[i] = lengths[i];
        sampled += lengths[i];
    }
    dictionary_size = ZDICT_trainFromBuffer(dictionary, sizeof dictionary, samples, sizes, TRAINED);
    if (ZDICT_isError(dictionary_size)) {
        fprintf(stderr, "training: %s\n", ZDICT_getErrorName(dictionary_size));
        return 1;
    }
    printf("zstd %s, %d bodies, dictionary %zu bytes\n", ZSTD_versionString(), count, dictionary_size);
    int levels[] = {-5, 1, 3};
    for (int i = 0; i < 3; i++) run(levels[i], 1);
    int groups[] = {2, 5, 10, 100};
    for (int i = 0; i < 4; i++) run(3, groups[i]);
    return 0;
}
