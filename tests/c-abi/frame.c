/* C ABI harness for the video receive path: packetize frames with lumen_sender_*, drop datagrams (up to
 * the parity a block carries, and then more), feed the rest to lumen_receiver_* in reverse order, and
 * check that the same bytes come back, or that the frame is reported lost. Runs for the Moonlight
 * framing (plain and AES-GCM encrypted) and for the lumen transport (GF(2^16), bare and sealed with
 * ChaCha20-Poly1305). Exits non-zero on any
 * mismatch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lumen_core.h"

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "frame.c:%d: check failed: %s\n", __LINE__, #cond);      \
            exit(1);                                                                 \
        }                                                                            \
    } while (0)

static void fill(uint8_t *au, size_t len, uint32_t seed) {
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        au[i] = (uint8_t)x;
    }
}

/* Sends one frame, last datagram first; drops `drop_max` datagrams, every `drop_every`-th (0 = none) from
 * index `drop_from`. Returns the datagram count. */
static int send_frame(LumenSender *s, LumenReceiver *r, uint32_t index, const uint8_t *au, size_t len,
                      int drop_every, int drop_from, int drop_max) {
    int n = lumen_sender_packetize(s, index, index == 1 ? 2 : 1, 33, index * 1500, au, len);
    CHECK(n > 0);
    for (int i = n - 1; i >= 0; i--) {
        if (drop_every && i >= drop_from && (i - drop_from) % drop_every == 0 && (i - drop_from) / drop_every < drop_max) {
            continue;
        }
        const uint8_t *d = NULL;
        size_t dl = 0;
        CHECK(lumen_sender_datagram(s, (uint32_t)i, &d, &dl) == LUMEN_WIRE_OK);
        int rc = lumen_receiver_push(r, d, dl);
        CHECK(rc >= 0);
    }
    return n;
}

static void run(uint32_t field_bits, uint32_t encrypted) {
    LumenConfig cfg;
    CHECK(lumen_config_init(&cfg) == LUMEN_WIRE_OK);
    CHECK(cfg.struct_size == sizeof(LumenConfig));
    cfg.fec_field_bits = field_bits;
    cfg.encrypted = encrypted;
    for (int i = 0; i < 16; i++) cfg.key[i] = (uint8_t)(i * 17 + 3);
    for (int i = 0; i < 16; i++) cfg.transport_salt[i] = (uint8_t)(i * 5 + 1);

    LumenSender *s = lumen_sender_new(&cfg);
    LumenReceiver *r = lumen_receiver_new(&cfg);
    CHECK(s != NULL && r != NULL);

    size_t sizes[] = {1, 1368, 1369, 40000, 250000};
    uint8_t *au = malloc(250000);
    uint8_t *copy = malloc(250000);
    CHECK(au && copy);
    uint32_t index = 1;
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++, index++) {
        size_t len = sizes[k];
        fill(au, len, index);
        /* Drop the first two datagrams (data shards): every frame carries at least 2 parity shards. */
        send_frame(s, r, index, au, len, 1, 0, 2);
        LumenFrameInfo info;
        int rc = lumen_receiver_poll(r, &info);
        CHECK(rc == LUMEN_POLL_FRAME);
        CHECK(info.frame_index == index);
        CHECK(info.frame_type == (index == 1 ? 2u : 1u));
        CHECK(info.host_latency == 33);
        CHECK(info.rtp_timestamp == index * 1500);
        CHECK(info.recovered_shards >= 1);
        CHECK(info.data_len == len);
        CHECK(memcmp(info.data, au, len) == 0);
        CHECK(lumen_receiver_copy_frame(r, copy, len) == (int64_t)len);
        CHECK(memcmp(copy, au, len) == 0);
        CHECK(lumen_receiver_poll(r, &info) == LUMEN_POLL_NONE);
    }

    /* A frame that loses more data shards than it has parity is reported lost once a later frame lands. */
    fill(au, 40000, 99);
    send_frame(s, r, index, au, 40000, 1, 0, 10);
    index++;
    fill(au, 5000, 100);
    send_frame(s, r, index, au, 5000, 0, 0, 0);
    LumenFrameInfo info;
    if (field_bits == LUMEN_FEC_FIELD_MOONLIGHT) {
        CHECK(lumen_receiver_poll(r, &info) == LUMEN_POLL_LOST);
        CHECK(info.lost_first == index - 1 && info.lost_last == index - 1);
    }
    CHECK(lumen_receiver_poll(r, &info) == LUMEN_POLL_FRAME);
    CHECK(info.frame_index == index && info.data_len == 5000 && memcmp(info.data, au, 5000) == 0);

    /* Bad arguments give codes, never a crash. */
    CHECK(lumen_receiver_push(NULL, au, 10) == LUMEN_WIRE_ERR_NULL);
    CHECK(lumen_receiver_push(r, NULL, 10) == LUMEN_WIRE_ERR_NULL);
    CHECK(lumen_receiver_push(r, au, 10) < 0);
    CHECK(lumen_receiver_poll(r, NULL) == LUMEN_WIRE_ERR_NULL);
    CHECK(lumen_sender_packetize(s, 1, 9, 0, 0, au, 10) == LUMEN_WIRE_ERR_RANGE);

    free(au);
    free(copy);
    lumen_sender_free(s);
    lumen_receiver_free(r);
    printf("frame.c: field %u%s: round trips and loss verdicts ok\n", field_bits, encrypted ? " encrypted" : "");
}

int main(void) {
    LumenConfig bad;
    CHECK(lumen_config_init(&bad) == LUMEN_WIRE_OK);
    bad.struct_size = 4;
    CHECK(lumen_receiver_new(&bad) == NULL);
    CHECK(lumen_receiver_new(NULL) == NULL);
    CHECK(lumen_sender_new(NULL) == NULL);
    lumen_receiver_free(NULL);
    lumen_sender_free(NULL);

    run(LUMEN_FEC_FIELD_MOONLIGHT, 0);
    run(LUMEN_FEC_FIELD_MOONLIGHT, 1);
    run(LUMEN_FEC_FIELD_LUMEN, 0);
    run(LUMEN_FEC_FIELD_LUMEN, 1);

    /* A version-1 caller (no transport_salt) is still accepted. */
    LumenConfig v1;
    CHECK(lumen_config_init(&v1) == LUMEN_WIRE_OK);
    v1.struct_size = LUMEN_CONFIG_V1_SIZE;
    LumenReceiver *r1 = lumen_receiver_new(&v1);
    CHECK(r1 != NULL);
    lumen_receiver_free(r1);
    return 0;
}
