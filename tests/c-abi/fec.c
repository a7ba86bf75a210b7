/* C ABI harness for lumen-core FEC: compiled against include/lumen_core.h and linked once with the cdylib
 * and once with the staticlib (see run.sh). Round-trips both fields with erasures, checks a known-answer
 * GF(2^8) vector computed here independently (nanors construction: polynomial 0x11D, parity row j, data
 * column i = 1 / (j ^ (parity + i))), and checks every bad-argument error code. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lumen_core.h"

static int passed, failed;

#define CHECK(cond, ...)                                                                                     \
    do {                                                                                                     \
        if (cond) {                                                                                          \
            passed++;                                                                                        \
        } else {                                                                                             \
            failed++;                                                                                        \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                            \
            fprintf(stderr, __VA_ARGS__);                                                                    \
            fprintf(stderr, "\n");                                                                           \
        }                                                                                                    \
    } while (0)

static uint64_t rng = 0x243F6A8885A308D3ull;
static uint8_t next_byte(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint8_t)(rng >> 24);
}

static uint8_t gf_mul(uint8_t a, uint8_t b) {
    uint8_t p = 0;
    while (b) {
        if (b & 1) p ^= a;
        a = (uint8_t)((a << 1) ^ ((a & 0x80) ? 0x1D : 0));
        b >>= 1;
    }
    return p;
}

static uint8_t gf_inv(uint8_t a) {
    for (int y = 1; y < 256; y++)
        if (gf_mul(a, (uint8_t)y) == 1) return (uint8_t)y;
    return 0;
}

/* Encodes data+parity shards of len bytes, erases `lost` data shards (and one parity shard when there is
 * spare parity), reconstructs and compares. */
static void round_trip(uint32_t field, uint32_t data, uint32_t parity, size_t len, uint32_t lost) {
    uint32_t total = data + parity;
    uint8_t **shards = calloc(total, sizeof *shards);
    uint8_t **orig = calloc(total, sizeof *orig);
    uint8_t *present = calloc(total, 1);
    for (uint32_t i = 0; i < total; i++) {
        shards[i] = malloc(len);
        orig[i] = malloc(len);
        for (size_t b = 0; b < len; b++) shards[i][b] = i < data ? next_byte() : 0;
    }
    int32_t rc = lumen_fec_encode(field, data, parity, len, (uint8_t *const *)shards);
    CHECK(rc == LUMEN_FEC_OK, "encode GF(2^%u) %u+%u x %zu: %d", field, data, parity, len, rc);
    for (uint32_t i = 0; i < total; i++) {
        memcpy(orig[i], shards[i], len);
        present[i] = 1;
    }
    for (uint32_t k = 0; k < lost; k++) {
        uint32_t i = (k * 7919u + 3u) % data;
        while (!present[i]) i = (i + 1) % data;
        present[i] = 0;
        memset(shards[i], 0xEE, len);
    }
    if (lost < parity) {
        present[data] = 0; /* a lost parity shard too, still recoverable */
        memset(shards[data], 0, len);
    }
    rc = lumen_fec_reconstruct(field, data, parity, len, (uint8_t *const *)shards, present);
    CHECK(rc == LUMEN_FEC_OK, "reconstruct GF(2^%u) %u+%u: %d", field, data, parity, rc);
    int same = 1;
    for (uint32_t i = 0; i < data; i++) same &= memcmp(shards[i], orig[i], len) == 0;
    CHECK(same, "reconstructed data differs GF(2^%u) %u+%u lost %u", field, data, parity, lost);

    /* one more data shard lost than parity can cover */
    for (uint32_t i = 0; i < total; i++) present[i] = 1;
    for (uint32_t i = 0; i < parity + 1 && i < data; i++) present[i] = 0;
    if (parity + 1 <= data) {
        rc = lumen_fec_reconstruct(field, data, parity, len, (uint8_t *const *)shards, present);
        CHECK(rc == LUMEN_FEC_ERR_UNRECOVERABLE, "too much loss GF(2^%u) %u+%u: %d", field, data, parity, rc);
    }
    for (uint32_t i = 0; i < total; i++) {
        free(shards[i]);
        free(orig[i]);
    }
    free(shards);
    free(orig);
    free(present);
}

static void known_answer(void) {
    /* 4 data shards of 1 byte: 1, 2, 3, 4; parity j = sum_i data_i / (j ^ (2 + i)) */
    uint8_t buf[6] = {1, 2, 3, 4, 0, 0};
    uint8_t *shards[6];
    for (int i = 0; i < 6; i++) shards[i] = &buf[i];
    CHECK(lumen_fec_encode(8, 4, 2, 1, shards) == LUMEN_FEC_OK, "known-answer encode");
    for (int j = 0; j < 2; j++) {
        uint8_t want = 0;
        for (int i = 0; i < 4; i++) want ^= gf_mul(gf_inv((uint8_t)(j ^ (2 + i))), (uint8_t)(i + 1));
        CHECK(buf[4 + j] == want, "known-answer parity %d: got %u want %u", j, buf[4 + j], want);
    }
}

static void bad_arguments(void) {
    uint8_t a[128], b[128], c[128];
    uint8_t *ok[3] = {a, b, c};
    uint8_t *with_null[3] = {a, NULL, c};
    uint8_t present[3] = {1, 1, 1};
    memset(a, 1, sizeof a);
    memset(b, 2, sizeof b);
    CHECK(lumen_fec_encode(8, 2, 1, 128, NULL) == LUMEN_FEC_ERR_NULL, "null shards");
    CHECK(lumen_fec_encode(8, 2, 1, 128, with_null) == LUMEN_FEC_ERR_NULL, "null shard entry");
    CHECK(lumen_fec_reconstruct(8, 2, 1, 128, ok, NULL) == LUMEN_FEC_ERR_NULL, "null present");
    CHECK(lumen_fec_reconstruct(16, 2, 1, 128, NULL, present) == LUMEN_FEC_ERR_NULL, "null shards (16)");
    CHECK(lumen_fec_encode(7, 2, 1, 128, ok) == LUMEN_FEC_ERR_FIELD, "field 7");
    CHECK(lumen_fec_encode(32, 2, 1, 128, ok) == LUMEN_FEC_ERR_FIELD, "field 32");
    CHECK(lumen_fec_encode(8, 0, 1, 128, ok) == LUMEN_FEC_ERR_SHARD_COUNT, "no data shards");
    CHECK(lumen_fec_encode(8, 2, 0, 128, ok) == LUMEN_FEC_ERR_SHARD_COUNT, "no parity shards");
    CHECK(lumen_fec_encode(8, 250, 10, 128, ok) == LUMEN_FEC_ERR_SHARD_COUNT, "260 shards in GF(2^8)");
    CHECK(lumen_fec_encode(16, 60000, 10000, 128, ok) == LUMEN_FEC_ERR_SHARD_COUNT, "70000 shards in GF(2^16)");
    CHECK(lumen_fec_encode(8, 0xFFFFFFFFu, 0xFFFFFFFFu, 128, ok) == LUMEN_FEC_ERR_SHARD_COUNT, "u32 overflow counts");
    CHECK(lumen_fec_encode(8, 2, 1, 0, ok) == LUMEN_FEC_ERR_SHARD_LENGTH, "zero length");
    CHECK(lumen_fec_encode(16, 2, 1, 100, ok) == LUMEN_FEC_ERR_SHARD_LENGTH, "GF(2^16) length not multiple of 64");
    CHECK(lumen_fec_reconstruct(16, 2, 1, 0, ok, present) == LUMEN_FEC_ERR_SHARD_LENGTH, "zero length (16)");
    CHECK(lumen_fec_encode(8, 2, 1, 128, ok) == LUMEN_FEC_OK, "valid call after errors");
}

int main(void) {
    CHECK(lumen_abi_version() == LUMEN_ABI_VERSION, "abi version %u", lumen_abi_version());
    known_answer();
    round_trip(8, 4, 2, 1392, 2);     /* Moonlight audio block */
    round_trip(8, 200, 40, 1392, 40); /* full video block */
    round_trip(8, 50, 10, 999, 7);
    round_trip(8, 1, 1, 1, 1);
    round_trip(8, 128, 127, 64, 127);
    round_trip(16, 4000, 400, 128, 400);
    round_trip(16, 10, 3, 64, 2);
    round_trip(16, 1000, 1000, 64, 1000);
    bad_arguments();
    printf("fec: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
