/*
 * The C reference codec's throughput on this machine, for `tinyqa bench framing` to print beside
 * the TypeScript decoder: SAMPLES frames of 32 float32 values (1 channel), encoded with
 * tqb_encode_frame() and decoded with the stream receiver tqb_rx_feed() in 4 KB reads.
 * Prints "encode_bytes_per_s N", "decode_bytes_per_s N" (wire bytes) and "frames N".
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../tinyqa_bridge.h"

#define FRAMES 200000u
#define SAMPLES 32u

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(void)
{
    static uint8_t tx[TQB_TX_BUF_MAX];
    static uint8_t rxbuf[TQB_RX_BUF_MAX];
    float values[SAMPLES];
    size_t cap = (size_t)FRAMES * 200u;
    uint8_t *wire = malloc(cap); /* host benchmark only: the library itself never allocates */
    size_t total = 0, i, s, wl = 0;
    tqb_message_t m;
    tqb_header_t h;
    tqb_rx_t rx;
    double t0, enc_s, dec_s, sink = 0;
    unsigned long frames = 0;

    if (!wire) return 1;
    memset(&m, 0, sizeof m);
    memset(&h, 0, sizeof h);
    m.type = TQB_SAMPLES;
    m.u.samples.channels = 1;
    m.u.samples.period_us = 1000;
    m.u.samples.n_values = SAMPLES;
    m.u.samples.values = values;
    h.version = 1;

    t0 = now_s();
    for (i = 0; i < FRAMES; i++) {
        for (s = 0; s < SAMPLES; s++) values[s] = (float)(sin((double)(i * SAMPLES + s)) * 3.0 + 1.0);
        h.seq = (uint16_t)i;
        h.time_ms = (uint32_t)(i * SAMPLES);
        if (tqb_encode_frame(&h, &m, tx, sizeof tx, &wl) != TQB_OK || total + wl > cap) return 2;
        memcpy(wire + total, tx, wl);
        total += wl;
    }
    enc_s = now_s() - t0;

    tqb_rx_init(&rx, rxbuf, sizeof rxbuf);
    t0 = now_s();
    for (i = 0; i < total; i += 4096) {
        size_t left = total - i < 4096 ? total - i : 4096;
        const uint8_t *p = wire + i;
        while (left > 0) {
            tqb_rx_event_t ev;
            size_t used = tqb_rx_feed(&rx, p, left, &ev);
            if (ev.got_frame && ev.msg_err == TQB_OK) {
                frames++;
                sink += tqb_sample_value(&ev.frame.msg.u.samples, 0);
            }
            p += used;
            left -= used;
        }
    }
    dec_s = now_s() - t0;
    if (frames != FRAMES) {
        fprintf(stderr, "decoded %lu of %u frames\n", frames, FRAMES);
        return 3;
    }
    printf("encode_bytes_per_s %.0f\ndecode_bytes_per_s %.0f\nframes %lu\nchecksum %g\n", (double)total / enc_s, (double)total / dec_s, frames, sink);
    free(wire);
    return 0;
}
