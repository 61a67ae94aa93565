/*
 * Unit tests of the C protocol implementation, plain C. Each test is a function; a test passes when
 * none of its checks fails. The last line is "N passed, M failed"; the exit status is non-zero on any
 * failure. Usage: test_bridge [VECTORS_DIR] (default ../vectors).
 */
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../host/tqb_expect.h"
#include "../tinyqa_bridge.h"

static int g_passed, g_failed, g_cur_failed;
static const char *g_cur;

static void fail_at(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    if (g_cur_failed < 5) {
        fprintf(stderr, "  FAIL %s (%s:%d): ", g_cur, file, line);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
    }
    g_cur_failed++;
}

#define CHECK(cond, ...)                                                                                                   \
    do {                                                                                                                   \
        if (!(cond)) fail_at(__FILE__, __LINE__, __VA_ARGS__);                                                             \
    } while (0)

static void run(const char *name, void (*fn)(void))
{
    g_cur = name;
    g_cur_failed = 0;
    fn();
    if (g_cur_failed) {
        g_failed++;
        printf("not ok - %s\n", name);
    } else {
        g_passed++;
        printf("ok - %s\n", name);
    }
}

/* Deterministic PRNG (xorshift32) so every run tests the same inputs. */
static uint32_t g_rng = 0x12345678u;
static uint32_t rnd(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 17;
    g_rng ^= g_rng << 5;
    return g_rng;
}

static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
    size_t n = 0;
    int hi = -1;
    for (; *s; s++) {
        int v;
        if (*s >= '0' && *s <= '9') v = *s - '0';
        else if (*s >= 'a' && *s <= 'f') v = *s - 'a' + 10;
        else if (*s >= 'A' && *s <= 'F') v = *s - 'A' + 10;
        else continue; /* whitespace is insignificant (vectors/README.md) */
        if (hi < 0) {
            hi = v;
        } else {
            if (n < cap) out[n] = (uint8_t)(hi << 4 | v);
            n++;
            hi = -1;
        }
    }
    return n;
}

static void hexstr(const uint8_t *b, size_t n, char *out, size_t cap)
{
    size_t i;
    out[0] = '\0';
    for (i = 0; i < n && 2 * i + 3 <= cap; i++) sprintf(out + 2 * i, "%02x", b[i]);
}

/* ------------------------------------------------------------------ CRC, COBS */

static void test_crc_check_value(void)
{
    const uint8_t *s = (const uint8_t *)"123456789";
    uint32_t c = tqb_crc32c(s, 9);
    CHECK(c == 0xE3069283u, "crc32c(123456789) = %08lx", (unsigned long)c);
    c = tqb_crc32c_update(tqb_crc32c_update(0, s, 4), s + 4, 5);
    CHECK(c == 0xE3069283u, "chained crc = %08lx", (unsigned long)c);
    CHECK(tqb_crc32c(s, 0) == 0, "crc of nothing is 0");
}

static void cobs_round_trip(const uint8_t *src, size_t n)
{
    static uint8_t enc[4200], dec[4200];
    size_t e = tqb_cobs_encode(src, n, enc, sizeof enc), d = 0, i;
    CHECK(e > 0 && e <= TQB_COBS_MAX(n), "encoded %u bytes to %u", (unsigned)n, (unsigned)e);
    for (i = 0; i < e; i++) CHECK(enc[i] != 0, "zero in encoding of %u bytes at %u", (unsigned)n, (unsigned)i);
    CHECK(tqb_cobs_decode(enc, e, dec, sizeof dec, &d) == TQB_OK && d == n && (n == 0 || memcmp(dec, src, n) == 0),
          "round trip of %u bytes", (unsigned)n);
    /* Exactly enough room works, one byte less does not. */
    CHECK(tqb_cobs_encode(src, n, enc, e) == e, "exact capacity");
    CHECK(tqb_cobs_encode(src, n, enc, e - 1) == 0, "capacity one short reports 0");
}

static void test_cobs_round_trips(void)
{
    static uint8_t buf[2100];
    static const size_t runs[] = {0, 1, 2, 253, 254, 255, 256, 507, 508, 509, 762, 2048};
    size_t i, k;
    for (i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        for (k = 0; k < runs[i]; k++) buf[k] = (uint8_t)(1 + k % 255);
        cobs_round_trip(buf, runs[i]); /* no zero at all */
        memset(buf, 0, runs[i]);
        cobs_round_trip(buf, runs[i]); /* all zero */
        for (k = 0; k < runs[i]; k++) buf[k] = (uint8_t)(k % 7 == 3 ? 0 : 0xA5);
        cobs_round_trip(buf, runs[i]);
    }
    /* a zero right after a 254-run, and right before one */
    for (k = 0; k < 254; k++) buf[k] = 0x11;
    buf[254] = 0;
    cobs_round_trip(buf, 255);
    buf[0] = 0;
    for (k = 1; k < 255; k++) buf[k] = 0x22;
    cobs_round_trip(buf, 255);
    for (i = 0; i < 2000; i++) {
        size_t n = rnd() % 600;
        for (k = 0; k < n; k++) buf[k] = (rnd() % 4 == 0) ? 0 : (uint8_t)rnd();
        cobs_round_trip(buf, n);
    }
}

static void test_cobs_known_encodings(void)
{
    static uint8_t src[300], enc[320];
    char hex[700];
    size_t n, k;
    n = tqb_cobs_encode(src, 0, enc, sizeof enc);
    CHECK(n == 1 && enc[0] == 1, "empty -> 01");
    src[0] = 0;
    n = tqb_cobs_encode(src, 1, enc, sizeof enc);
    hexstr(enc, n, hex, sizeof hex);
    CHECK(strcmp(hex, "0101") == 0, "00 -> %s", hex);
    memcpy(src, "\x11\x22\x00\x33", 4);
    n = tqb_cobs_encode(src, 4, enc, sizeof enc);
    hexstr(enc, n, hex, sizeof hex);
    CHECK(strcmp(hex, "0311220233") == 0, "11 22 00 33 -> %s", hex);
    /* A full last run of 254 is followed by a 01 code (Cheshire & Baker's StuffData). */
    for (k = 0; k < 254; k++) src[k] = 0x01;
    n = tqb_cobs_encode(src, 254, enc, sizeof enc);
    CHECK(n == 256 && enc[0] == 0xFF && enc[255] == 0x01, "254 x 01 -> %u bytes, last %02x", (unsigned)n, enc[n - 1]);
    src[254] = 0x02;
    n = tqb_cobs_encode(src, 255, enc, sizeof enc);
    CHECK(n == 257 && enc[0] == 0xFF && enc[255] == 0x02 && enc[256] == 0x02, "255 non-zero bytes");
}

static void test_cobs_decode_errors(void)
{
    uint8_t out[16];
    size_t n;
    CHECK(tqb_cobs_decode((const uint8_t *)"\x05\x01\x02", 3, out, sizeof out, &n) == TQB_ERR_BAD_COBS, "code past end");
    CHECK(tqb_cobs_decode((const uint8_t *)"\x03\x01\x00", 3, out, sizeof out, &n) == TQB_ERR_BAD_COBS, "zero inside");
    CHECK(tqb_cobs_decode((const uint8_t *)"\x03\x01\x02\x01", 4, out, 1, &n) == TQB_ERR_NO_SPACE, "no space");
    /* The redundant trailing 01 after a full run decodes to nothing, as does its absence. */
    {
        static uint8_t enc[260], dec[260];
        size_t k;
        enc[0] = 0xFF;
        for (k = 1; k < 255; k++) enc[k] = 0x07;
        CHECK(tqb_cobs_decode(enc, 255, dec, sizeof dec, &n) == TQB_OK && n == 254, "FF run without 01: %u", (unsigned)n);
        enc[255] = 0x01;
        CHECK(tqb_cobs_decode(enc, 256, dec, sizeof dec, &n) == TQB_OK && n == 254, "FF run with 01: %u", (unsigned)n);
    }
}

static void test_cobs_in_place(void)
{
    /* The encoder's documented overlap: input at dst + 1 + n/254. */
    static uint8_t buf[2200], ref[2100], dec[2100];
    size_t n, e, d, k, off;
    for (k = 0; k < 50; k++) {
        n = 1 + rnd() % 2048;
        for (off = 0; off < n; off++) ref[off] = (rnd() % 3 == 0) ? 0 : (uint8_t)(1 + rnd() % 255);
        if (k % 2) memset(ref, 0x5A, n); /* long runs: maximal overhead */
        off = 1 + n / 254;
        memcpy(buf + off, ref, n);
        e = tqb_cobs_encode(buf + off, n, buf, sizeof buf);
        CHECK(tqb_cobs_decode(buf, e, dec, sizeof dec, &d) == TQB_OK && d == n && memcmp(dec, ref, n) == 0,
              "in-place encode of %u bytes", (unsigned)n);
        CHECK(tqb_cobs_decode(buf, e, buf, sizeof buf, &d) == TQB_OK && d == n && memcmp(buf, ref, n) == 0,
              "in-place decode of %u bytes", (unsigned)n);
    }
}

/* ------------------------------------------------------------------ CBOR */

static const char *cbor_hex(void (*fn)(tqb_cbor_writer_t *, double), double v)
{
    static char hex[64];
    uint8_t b[16];
    tqb_cbor_writer_t w;
    tqb_cbor_writer_init(&w, b, sizeof b);
    fn(&w, v);
    hexstr(b, w.len, hex, sizeof hex);
    return hex;
}

static void wr_uint(tqb_cbor_writer_t *w, double v) { tqb_cbor_uint(w, (uint64_t)v); }
static void wr_num(tqb_cbor_writer_t *w, double v) { tqb_cbor_number(w, v); }

static void test_cbor_writer_known_values(void)
{
    static const struct {
        double v;
        const char *uint_hex, *num_hex;
    } cases[] = {
        {0, "00", "00"},
        {23, "17", "17"},
        {24, "1818", "1818"},
        {100, "1864", "1864"},
        {255, "18ff", "18ff"},
        {256, "190100", "190100"},
        {65535, "19ffff", "19ffff"},
        {65536, "1a00010000", "1a00010000"},
        {4294967295.0, "1affffffff", "1affffffff"},
        {4294967296.0, "1b0000000100000000", "fa4f800000"},
        {1700000000000.0, "1b0000018bcfe56800", "fa53c5e7f3"},
    };
    static const struct {
        double v;
        const char *hex;
    } nums[] = {
        {-1, "20"}, {-20, "33"}, {-24, "37"}, {-25, "3818"}, {-256, "38ff"}, {-257, "390100"},
        {-4294967295.0, "3afffffffe"}, {-4294967296.0, "facf800000"}, {0.5, "fa3f000000"},
        {2.5, "fa40200000"}, {1.5, "fa3fc00000"}, {-0.0, "00"}, {0.1, "fa3dcccccd"},
        {1e300, "fa7f800000"}, {-1e300, "faff800000"}, {3.4028235e38, "fa7f7fffff"},
    };
    size_t i;
    uint8_t b[64];
    char hex[160];
    tqb_cbor_writer_t w;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *h = cbor_hex(wr_uint, cases[i].v);
        CHECK(strcmp(h, cases[i].uint_hex) == 0, "uint %.17g -> %s, want %s", cases[i].v, h, cases[i].uint_hex);
        h = cbor_hex(wr_num, cases[i].v);
        CHECK(strcmp(h, cases[i].num_hex) == 0, "number %.17g -> %s, want %s", cases[i].v, h, cases[i].num_hex);
    }
    for (i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        const char *h = cbor_hex(wr_num, nums[i].v);
        CHECK(strcmp(h, nums[i].hex) == 0, "number %.17g -> %s, want %s", nums[i].v, h, nums[i].hex);
    }
    {
        /* NaN from its bits: the canonical quiet NaN, as JavaScript writes it. */
        uint64_t nan_bits = 0x7FF8000000000000ull;
        double nan, inf = 1e308 * 10.0;
        memcpy(&nan, &nan_bits, sizeof nan);
        CHECK(strcmp(cbor_hex(wr_num, nan), "fa7fc00000") == 0, "NaN -> %s", cbor_hex(wr_num, nan));
        CHECK(strcmp(cbor_hex(wr_num, inf), "fa7f800000") == 0, "inf");
    }
    tqb_cbor_writer_init(&w, b, sizeof b);
    tqb_cbor_text(&w, "a", 1);
    tqb_cbor_text(&w, "abcdefghijklmnopqrstuvwx", 24);
    tqb_cbor_array(&w, 3);
    tqb_cbor_map(&w, 0);
    tqb_cbor_map(&w, 24);
    tqb_cbor_tag(&w, 85);
    tqb_cbor_bytes(&w, (const uint8_t *)"\x00\x00\xc0\x3f", 4);
    tqb_cbor_nint(&w, 0);
    hexstr(b, w.len, hex, sizeof hex);
    CHECK(strcmp(hex, "6161781861626364656667686"
                      "96a6b6c6d6e6f70717273747576777883a0b818d855440000c03f20") == 0,
          "text/array/map/tag/bytes -> %s", hex);
    /* Overflow is sticky and reported. */
    tqb_cbor_writer_init(&w, b, 3);
    tqb_cbor_uint(&w, 70000);
    CHECK(w.overflow && w.len == 0, "overflow reported");
    tqb_cbor_uint(&w, 1);
    CHECK(w.overflow && w.len == 0, "overflow sticky");
}

static int read_num_hex(const char *hex, double *v, size_t *used)
{
    uint8_t b[16];
    size_t n = unhex(hex, b, sizeof b);
    tqb_cbor_reader_t r;
    int rc;
    r.p = b;
    r.len = n;
    r.pos = 0;
    rc = tqb_cbor_read_number(&r, v);
    *used = r.pos;
    return rc;
}

static void test_cbor_reader(void)
{
    static const struct {
        const char *hex;
        double v;
    } ok[] = {
        {"00", 0}, {"17", 23}, {"1818", 24}, {"1b0000018bcfe56800", 1700000000000.0}, {"20", -1}, {"3818", -25},
        {"f93c00", 1.0}, {"f9c000", -2.0}, {"f97bff", 65504.0}, {"f90001", 5.9604644775390625e-08},
        {"f93555", 0.333251953125}, {"fa3fc00000", 1.5}, {"fb3ff199999999999a", 1.1}, {"fbc010000000000000", -4.0},
    };
    static const char *bad[] = {"", "18", "19ff", "1a000000", "1b00000000000000", "fa3fc000", "f93c", "fb3ff1",
                                "1c", "1d", "1e", "1f", "60", "f5", "f6", "c0", "80", "a0", "9f", "ff"};
    size_t i, used;
    double v;
    for (i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        CHECK(read_num_hex(ok[i].hex, &v, &used) == 0 && v == ok[i].v, "%s -> %.17g", ok[i].hex, v);
    }
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(read_num_hex(bad[i], &v, &used) != 0 && used == 0, "%s must not read as a number", bad[i]);
    }
    CHECK(read_num_hex("f97c00", &v, &used) == 0 && v > 1e308, "half infinity");
    CHECK(read_num_hex("f97e00", &v, &used) == 0 && v != v, "half NaN");
    {
        /* skip: nested containers, tags, floats of every width, and what must be refused */
        static const struct {
            const char *hex;
            int ok;
            size_t len;
        } sk[] = {
            {"a20182f93c00fb3ff199999999999a02a1c1f5d855440000c03f", 1, 26},
            {"8301820203820405", 1, 8},
            {"f818", 0, 0}, /* simple value below 32 in two bytes */
            {"f820", 1, 2},
            {"9f01ff", 0, 0},
            {"bf0102ff", 0, 0},
            {"5f4101ff", 0, 0},
            {"7f6161ff", 0, 0},
            {"ff", 0, 0},
            {"9b7fffffffffffffff", 0, 0}, /* huge count, nothing behind it */
            {"bb7fffffffffffffff", 0, 0},
            {"5a7fffffff", 0, 0},
            {"a1", 0, 0},
            {"c1", 0, 0},
            {"d85501", 1, 3}, /* tag content is not checked by a plain skip */
        };
        for (i = 0; i < sizeof sk / sizeof sk[0]; i++) {
            uint8_t b[64];
            tqb_cbor_reader_t r;
            int rc;
            r.p = b;
            r.len = unhex(sk[i].hex, b, sizeof b);
            r.pos = 0;
            rc = tqb_cbor_skip(&r);
            CHECK((rc == 0) == sk[i].ok && r.pos == sk[i].len, "skip %s: rc %d pos %u", sk[i].hex, rc, (unsigned)r.pos);
        }
    }
}

static void test_parse_body_rules(void)
{
    static const struct {
        uint8_t type;
        const char *hex;
        tqb_err_t want;
    } cases[] = {
        /* COMMAND: id, code, optional arg; unknown keys of any shape skipped */
        {TQB_COMMAND, "a2000701 01", TQB_OK},
        {TQB_COMMAND, "a3000701010218 32", TQB_OK},
        {TQB_COMMAND, "a4000701010218320982a1006161fb3ff0000000000000", TQB_OK},
        {TQB_COMMAND, "a5000701010218326161820102 1903e8 d85540", TQB_OK}, /* text key skipped */
        {TQB_COMMAND, "a10007", TQB_ERR_BAD_MESSAGE},
        {TQB_COMMAND, "a2000701190100", TQB_ERR_BAD_MESSAGE}, /* code 256 */
        {TQB_COMMAND, "a2001b000000010000000001 01", TQB_ERR_BAD_MESSAGE}, /* id >= 2^32 */
        {TQB_COMMAND, "a20007 01 f94000", TQB_OK},                          /* integral float as uint */
        {TQB_COMMAND, "a20007 01 f93e00", TQB_ERR_BAD_MESSAGE},             /* 1.5 is no code */
        {TQB_COMMAND, "a20020 0101", TQB_ERR_BAD_MESSAGE},                  /* negative id */
        {TQB_COMMAND, "82 0001", TQB_ERR_BAD_BODY},
        /* SAMPLES: values tag 85, multiple of channels */
        {TQB_SAMPLES, "a3000201192710 02d855480000c03f0000c07f", TQB_OK},
        {TQB_SAMPLES, "a3000201192710 02d855440000c03f", TQB_ERR_BAD_MESSAGE},
        {TQB_SAMPLES, "a3000201192710 02480000c03f0000c07f", TQB_ERR_BAD_MESSAGE},
        {TQB_SAMPLES, "a3001821 01192710 02d85540", TQB_ERR_BAD_MESSAGE}, /* 33 channels */
        {TQB_SAMPLES, "a3000101 00 02d85540", TQB_ERR_BAD_MESSAGE},       /* period 0 */
        {TQB_SAMPLES, "a3000101 01 02d85540", TQB_OK},
        /* HELLO */
        {TQB_HELLO, "a8 00 6131 01 6161 02 81 a4 00 6178 01 6156 02 00 03 05 03 1864 04 0a 05 1901f4 06 820102 07 01", TQB_OK},
        {TQB_HELLO, "a7 00 6131 01 6161 02 81 a4 00 6178 01 6156 02 00 03 05 03 1864 04 0a 05 1901f4 06 80", TQB_OK},
        {TQB_HELLO, "a8 00 6131 01 6120 02 81 a4 00 6178 01 6156 02 00 03 05 03 1864 04 0a 05 1901f4 06 80 07 01", TQB_ERR_BAD_MESSAGE},
        {TQB_HELLO, "a8 00 6131 01 6161 02 81 a4 00 6178 01 6156 02 05 03 05 03 1864 04 0a 05 1901f4 06 80 07 01", TQB_ERR_BAD_MESSAGE},
        {TQB_HELLO, "a8 00 6131 01 6161 02 82 a4 00 6178 01 6156 02 00 03 05 a4 00 6178 01 6156 02 00 03 05 03 1864 04 0a 05 1901f4 06 80 07 01", TQB_ERR_BAD_MESSAGE},
        {TQB_HELLO, "a8 00 6131 01 6161 02 80 03 1864 04 0a 05 1901f4 06 80 07 01", TQB_ERR_BAD_MESSAGE},
        {TQB_HELLO, "a8 00 6131 01 6161 02 81 a4 00 6178 01 6156 02 00 03 05 03 00 04 0a 05 1901f4 06 80 07 01", TQB_ERR_BAD_MESSAGE},
        /* others */
        {TQB_HEARTBEAT, "a2 00 1903e8 01 00", TQB_OK},
        {TQB_HEARTBEAT, "a1 00 1903e8", TQB_ERR_BAD_MESSAGE},
        {TQB_TIME_SYNC, "a2 00 01 01 1b0000018bcfe56800", TQB_OK},
        {TQB_TIME_SYNC_REPLY, "a3 00 01 01 02 02 03", TQB_OK},
        {TQB_ACK, "a3 00 07 01 00 02 626f6b", TQB_OK},
        {TQB_LOG, "a2 00 02 01 6568656c6c6f", TQB_OK},
        {TQB_LOG, "a1 00 02", TQB_ERR_BAD_MESSAGE},
        {TQB_HELLO_REQUEST, "a0", TQB_OK},
        {TQB_HELLO_REQUEST, "a1 00 01", TQB_OK},
        {0x06, "a0", TQB_ERR_UNKNOWN_TYPE},
    };
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t b[256];
        size_t n = unhex(cases[i].hex, b, sizeof b);
        tqb_message_t m;
        tqb_err_t e = tqb_parse_body(cases[i].type, b, n, &m);
        CHECK(e == cases[i].want, "type %u body %s: %s, want %s", cases[i].type, cases[i].hex, tqb_err_name(e),
              tqb_err_name(cases[i].want));
    }
}

/* Random bytes into every reader entry point: must return, never read outside the input (the
 * sanitizers watch: each input is a heap block of exactly its length). */
static void test_reader_fuzz(void)
{
    static const uint8_t types[] = {1, 2, 3, 4, 5, 7, 0x10, 0x11, 0x20, 0x42};
    static const char *seeds[] = {
        "a8 00 6131 01 6161 02 81 a4 00 6178 01 6156 02 00 03 05 03 1864 04 0a 05 1901f4 06 820102 07 01",
        "a4000201192710 02d855480000c03f0000c07f 03 1a00989680",
        "a4 00 1903e8 01 00 02 190e10 03 fa41ac0000",
        "a3000701010218 32", "a3 00 07 01 00 02 626f6b", "a2 00 01 01 1b0000018bcfe56800",
    };
    uint8_t seedbuf[6][128];
    size_t seedlen[6];
    long it;
    size_t i;
    for (i = 0; i < 6; i++) seedlen[i] = unhex(seeds[i], seedbuf[i], sizeof seedbuf[i]);
    for (it = 0; it < 200000; it++) {
        size_t n;
        uint8_t *b;
        tqb_message_t m;
        tqb_cbor_reader_t r;
        uint8_t work[128];
        tqb_frame_t f;
        if (it % 2 == 0) {
            n = rnd() % 48;
            b = malloc(n ? n : 1);
            for (i = 0; i < n; i++) b[i] = (uint8_t)rnd();
            if (n && it % 4 == 0) b[0] = (uint8_t)(0xA0 | (b[0] & 0x07)); /* mostly maps */
        } else {
            /* a valid body with a few bytes changed, cut or extended */
            size_t s = (size_t)(rnd() % 6), flips = 1 + rnd() % 3;
            n = seedlen[s];
            if (rnd() % 4 == 0) n = rnd() % (n + 1);
            b = malloc(n ? n : 1);
            memcpy(b, seedbuf[s], n);
            while (n && flips--) b[rnd() % n] = (uint8_t)rnd();
        }
        r.p = b;
        r.len = n;
        r.pos = 0;
        if (tqb_cbor_skip(&r) == 0) CHECK(r.pos <= n, "skip went past the end");
        for (i = 0; i < sizeof types; i++) {
            tqb_err_t e = tqb_parse_body(types[i], b, n, &m);
            if (e == TQB_OK && types[i] == TQB_HELLO) {
                tqb_channel_view_t c;
                size_t k;
                for (k = 0; k < m.u.hello.n_channels; k++) CHECK(tqb_hello_channel(&m.u.hello, k, &c) == 0, "channel view");
            }
            if (e == TQB_OK && types[i] == TQB_SAMPLES && m.u.samples.n_values)
                (void)tqb_sample_value(&m.u.samples, m.u.samples.n_values - 1);
        }
        (void)tqb_decode_frame(b, n, work, sizeof work, &f);
        {
            /* The same bytes as the body of a frame with a correct CRC, so that the body check
             * (PROTOCOL §3) and the message parser run through the real decode path. */
            uint8_t raw[80], wire[96];
            size_t e;
            uint32_t crc;
            tqb_err_t got;
            raw[0] = 1;
            raw[1] = raw[2] = 0;
            raw[3] = types[rnd() % sizeof types];
            memset(raw + 4, 0, 6);
            memcpy(raw + 10, b, n);
            crc = tqb_crc32c(raw, 10 + n);
            raw[10 + n] = (uint8_t)crc;
            raw[11 + n] = (uint8_t)(crc >> 8);
            raw[12 + n] = (uint8_t)(crc >> 16);
            raw[13 + n] = (uint8_t)(crc >> 24);
            e = tqb_cobs_encode(raw, 14 + n, wire, sizeof wire);
            got = tqb_decode_frame(wire, e, work, sizeof work, &f);
            CHECK(e > 0 && (got == TQB_OK || got == TQB_ERR_BAD_BODY || got == TQB_ERR_BAD_MESSAGE ||
                            got == TQB_ERR_UNKNOWN_TYPE || (n == 0 && got == TQB_ERR_RUNT)),
                  "framed random body: %s", tqb_err_name(got));
            if (got == TQB_OK) {
                /* Whatever was accepted re-encodes without trouble. */
                uint8_t again[256];
                size_t m2 = 0;
                CHECK(tqb_encode_frame(&f.hdr, &f.msg, again, sizeof again, &m2) == TQB_OK, "re-encode accepted body");
            }
        }
        free(b);
    }
}

/* ------------------------------------------------------------------ frames and messages */

static tqb_header_t hdr(uint16_t seq, uint32_t time_ms)
{
    tqb_header_t h;
    h.version = 1;
    h.incompat_flags = 0;
    h.compat_flags = 0;
    h.seq = seq;
    h.time_ms = time_ms;
    return h;
}

static const tqb_channel_t k_channels[3] = {{"a", "V", 0, 5}, {"b_2", "deg C", -20, 2.5}, {"c.x-1", "", 0.5, 100}};
static const float k_values[6] = {1.5f, 2.0f, -0.25f, 3.0f, 4.5f, 100.0f};

/* One message of every type, filled in; index 8 is HELLO_REQUEST, 9 an unknown type. */
static void sample_message(int i, tqb_message_t *m)
{
    memset(m, 0, sizeof *m);
    switch (i) {
    case 0:
        m->type = TQB_HELLO;
        m->u.hello.fw = tqb_text("c-ref 1.0");
        m->u.hello.device = tqb_text("c-node-01");
        m->u.hello.n_channels = 3;
        m->u.hello.channels = k_channels;
        m->u.hello.rate_hz = 100;
        m->u.hello.batch = 10;
        m->u.hello.heartbeat_ms = 500;
        m->u.hello.n_commands = 4;
        m->u.hello.commands[0] = 1;
        m->u.hello.commands[1] = 2;
        m->u.hello.commands[2] = 3;
        m->u.hello.commands[3] = 4;
        m->u.hello.proto_min = 1;
        break;
    case 1:
        m->type = TQB_SAMPLES;
        m->u.samples.channels = 3;
        m->u.samples.period_us = 10000;
        m->u.samples.n_values = 6;
        m->u.samples.values = k_values;
        m->u.samples.has_t0 = 1;
        m->u.samples.t0_us = 5000000000ull;
        break;
    case 2:
        m->type = TQB_HEARTBEAT;
        m->u.heartbeat.uptime_ms = 123456;
        m->u.heartbeat.dropped = 3;
        m->u.heartbeat.has_battery = 1;
        m->u.heartbeat.battery_mv = 3700;
        m->u.heartbeat.has_temperature = 1;
        m->u.heartbeat.temperature_c = -20;
        break;
    case 3:
        m->type = TQB_TIME_SYNC;
        m->u.time_sync.nonce = 0xDEADBEEFu;
        m->u.time_sync.host_ms = 1700000000123ull;
        break;
    case 4:
        m->type = TQB_TIME_SYNC_REPLY;
        m->u.time_sync_reply.nonce = 42;
        m->u.time_sync_reply.host_ms = 1700000000123ull;
        m->u.time_sync_reply.device_ms = 987654;
        break;
    case 5:
        m->type = TQB_COMMAND;
        m->u.command.id = 77;
        m->u.command.code = TQB_CMD_SET_RATE;
        m->u.command.has_arg = 1;
        m->u.command.arg = 0.5;
        break;
    case 6:
        m->type = TQB_ACK;
        m->u.ack.id = 77;
        m->u.ack.status = TQB_ACK_BAD_ARGUMENT;
        m->u.ack.has_detail = 1;
        m->u.ack.detail = tqb_text("rate must be > 0");
        break;
    case 7:
        m->type = TQB_LOG;
        m->u.log.level = TQB_LOG_INFO;
        m->u.log.text = tqb_text("boot ok \xc2\xb5s");
        break;
    case 8:
        m->type = TQB_HELLO_REQUEST;
        break;
    default:
        m->type = 0x42;
        break;
    }
}

static void test_round_trip_every_type(void)
{
    static uint8_t wire[TQB_TX_BUF_MAX], wire2[TQB_TX_BUF_MAX], rxbuf[TQB_RX_BUF_MAX];
    static char d1[8192], d2[8192];
    int i;
    for (i = 0; i < 10; i++) {
        tqb_frame_t f, g;
        tqb_rx_t rx;
        tqb_rx_event_t ev;
        size_t n = 0, n2 = 0, used;
        tqb_header_t h = hdr((uint16_t)(65530 + i), 0xFFFFFFF0u + (uint32_t)i);
        memset(&f, 0, sizeof f);
        sample_message(i, &f.msg);
        f.hdr = h;
        CHECK(tqb_encode_frame(&h, &f.msg, wire, sizeof wire, &n) == TQB_OK, "encode type %u", f.msg.type);
        tqb_rx_init(&rx, rxbuf, sizeof rxbuf);
        used = tqb_rx_feed(&rx, wire, n, &ev);
        CHECK(used == n && ev.got_frame && ev.discard_err == TQB_OK, "type %u: one frame from %u bytes", f.msg.type, (unsigned)n);
        CHECK(ev.msg_err == (i == 9 ? TQB_ERR_UNKNOWN_TYPE : TQB_OK), "type %u: %s", f.msg.type, tqb_err_name(ev.msg_err));
        if (!ev.got_frame) continue;
        g = ev.frame;
        CHECK(tqb_dump_frame(&f, d1, sizeof d1) > 0 && tqb_dump_frame(&g, d2, sizeof d2) > 0, "dump");
        CHECK(strcmp(d1, d2) == 0, "type %u decodes to what was encoded:\n%s---\n%s", f.msg.type, d1, d2);
        /* The decoded message (texts, channels, values viewing the receive buffer) encodes to the
         * same bytes. */
        CHECK(tqb_encode_frame(&g.hdr, &g.msg, wire2, sizeof wire2, &n2) == TQB_OK && n2 == n &&
                  memcmp(wire, wire2, n) == 0,
              "type %u re-encodes identically", f.msg.type);
        /* And its .expect text parses back to a message that encodes to the same bytes (the path
         * the golden-vector test takes; texts with spaces and an empty unit included). */
        if (i < 9) {
            static tqb_expect_t ex;
            CHECK(tqb_parse_expect(d2, &ex) == 0, "type %u: own dump unparsable at line %d", f.msg.type, ex.bad_line);
            CHECK(tqb_encode_frame(&ex.frame.hdr, &ex.frame.msg, wire2, sizeof wire2, &n2) == TQB_OK && n2 == n &&
                      memcmp(wire, wire2, n) == 0,
                  "type %u: dump -> parse -> encode gives the same bytes", f.msg.type);
        }
    }
}

static void test_known_answer_frames(void)
{
    /* Computed independently (bitwise CRC-32C, the paper's COBS) before any golden vector existed. */
    static const struct {
        int which;
        const char *hex;
    } cases[] = {
        {0, "02010103100303e8030102a30b0701010218329d6b5b4e00"},
        {1, "02010102030103e8030102a3051903e8010503fa41ac0105e1e9f97d00"},
        {2, "0201010302070440e20102a30a020119271002d855480103c03f0107c07faabbcc4500"},
    };
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tqb_message_t m;
        tqb_header_t h;
        uint8_t wire[128];
        char hex[300];
        size_t n = 0;
        static const float two[2] = {1.5f, 0.0f};
        float vals[2];
        memset(&m, 0, sizeof m);
        memcpy(vals, two, sizeof vals);
        if (cases[i].which == 0) {
            h = hdr(3, 1000);
            m.type = TQB_COMMAND;
            m.u.command.id = 7;
            m.u.command.code = 1;
            m.u.command.has_arg = 1;
            m.u.command.arg = 50;
        } else if (cases[i].which == 1) {
            h = hdr(0, 1000);
            m.type = TQB_HEARTBEAT;
            m.u.heartbeat.uptime_ms = 1000;
            m.u.heartbeat.has_temperature = 1;
            m.u.heartbeat.temperature_c = 21.5;
        } else {
            uint32_t nan_bits = 0x7FC00000u;
            h = hdr(7, 123456);
            memcpy(&vals[1], &nan_bits, 4);
            m.type = TQB_SAMPLES;
            m.u.samples.channels = 2;
            m.u.samples.period_us = 10000;
            m.u.samples.n_values = 2;
            m.u.samples.values = vals;
        }
        CHECK(tqb_encode_frame(&h, &m, wire, sizeof wire, &n) == TQB_OK, "encode");
        hexstr(wire, n, hex, sizeof hex);
        CHECK(strcmp(hex, cases[i].hex) == 0, "frame %d:\n   got %s\n  want %s", cases[i].which, hex, cases[i].hex);
    }
}

static void test_frame_errors_in_order(void)
{
    /* Build frames with one defect each and check the §3 order of verdicts. */
    uint8_t raw[64], wire[128], work[128];
    size_t n, e;
    tqb_frame_t f;
    uint32_t crc;
    static const uint8_t body[] = {0xA2, 0x00, 0x07, 0x01, 0x01};
    struct {
        int defect;
        tqb_err_t want;
    } cases[] = {{0, TQB_OK}, {1, TQB_ERR_BAD_CRC}, {2, TQB_ERR_BAD_VERSION}, {3, TQB_ERR_UNKNOWN_FLAGS},
                 {4, TQB_ERR_BAD_BODY}, {5, TQB_ERR_BAD_BODY}, {6, TQB_ERR_RUNT}, {7, TQB_OK}, {8, TQB_ERR_BAD_VERSION},
                 {9, TQB_ERR_BAD_BODY}};
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int d = cases[i].defect;
        size_t blen = sizeof body;
        raw[0] = 1;
        raw[1] = 0;
        raw[2] = 0;
        raw[3] = TQB_COMMAND;
        raw[4] = 1;
        raw[5] = 0;
        raw[6] = raw[7] = raw[8] = raw[9] = 0;
        memcpy(raw + 10, body, blen);
        if (d == 2) raw[0] = 2;
        if (d == 3) raw[1] = 1;
        if (d == 4) raw[10] = 0x82;                       /* an array, not a map */
        if (d == 5) raw[10 + blen++] = 0x00;              /* one item too many */
        if (d == 6) blen = 0;                             /* 14 bytes */
        if (d == 7) raw[2] = 0xFF;                        /* compat flags are ignored (PROTOCOL §8) */
        if (d == 8) raw[0] = 0;
        if (d == 9) memcpy(raw + 10, "\xbf\x00\x07\xff", blen = 4); /* indefinite map */
        n = 10 + blen;
        crc = tqb_crc32c(raw, n);
        if (d == 1) crc ^= 0x100;
        raw[n] = (uint8_t)crc;
        raw[n + 1] = (uint8_t)(crc >> 8);
        raw[n + 2] = (uint8_t)(crc >> 16);
        raw[n + 3] = (uint8_t)(crc >> 24);
        n += 4;
        e = tqb_cobs_encode(raw, n, wire, sizeof wire);
        {
            tqb_err_t got = tqb_decode_frame(wire, e, work, sizeof work, &f);
            CHECK(got == cases[i].want, "defect %d: %s, want %s", d, tqb_err_name(got), tqb_err_name(cases[i].want));
        }
    }
    CHECK(tqb_decode_frame((const uint8_t *)"\x05\x01\x02", 3, work, sizeof work, &f) == TQB_ERR_BAD_COBS, "bad cobs");
    {
        /* a decoded frame beyond MAX_FRAME, and one beyond the work buffer */
        static uint8_t big[2100], bigw[2200], bigwork[2100];
        size_t k;
        for (k = 0; k < sizeof big; k++) big[k] = (uint8_t)(k % 100 == 99 ? 0 : 0x33);
        e = tqb_cobs_encode(big, 2049, bigw, sizeof bigw);
        CHECK(e <= TQB_MAX_ENCODED && tqb_decode_frame(bigw, e, bigwork, sizeof bigwork, &f) == TQB_ERR_OVERSIZE,
              "2049 decoded bytes are oversize");
        e = tqb_cobs_encode(big, 100, bigw, sizeof bigw);
        CHECK(tqb_decode_frame(bigw, e, bigwork, 64, &f) == TQB_ERR_OVERSIZE, "longer than the work buffer");
    }
}

static void test_max_frame_fits_tx_buf_max(void)
{
    static uint8_t wire[TQB_TX_BUF_MAX + 8], rxbuf[TQB_RX_BUF_MAX];
    static float vals[512];
    tqb_message_t m;
    tqb_header_t h = hdr(1, 2);
    size_t n = 0, nv, k;
    tqb_err_t e;
    /* The largest SAMPLES body that fits: 2048 - 14 - prefix. Try decreasing counts. */
    for (k = 0; k < 512; k++) vals[k] = 1.0f + (float)k; /* no zero bytes: maximal COBS overhead */
    memset(&m, 0, sizeof m);
    m.type = TQB_SAMPLES;
    m.u.samples.channels = 1;
    m.u.samples.period_us = 1;
    m.u.samples.values = vals;
    for (nv = 512; nv > 400; nv--) {
        m.u.samples.n_values = nv;
        e = tqb_encode_frame(&h, &m, wire, TQB_TX_BUF_MAX, &n);
        if (e == TQB_OK) break;
        CHECK(e == TQB_ERR_OVERSIZE, "too big is oversize, not %s", tqb_err_name(e));
    }
    CHECK(n <= TQB_MAX_ENCODED + 1 && n > 2000, "largest frame %u wire bytes", (unsigned)n);
    {
        tqb_rx_t rx;
        tqb_rx_event_t ev;
        tqb_rx_init(&rx, rxbuf, sizeof rxbuf);
        tqb_rx_feed(&rx, wire, n, &ev);
        CHECK(ev.got_frame && ev.msg_err == TQB_OK && ev.frame.msg.u.samples.n_values == nv, "largest frame received");
    }
    CHECK(tqb_encode_frame(&h, &m, wire, TQB_TX_BUF_MAX - 1, &n) != TQB_OK || n <= TQB_TX_BUF_MAX - 1,
          "a smaller buffer never overflows");
}

/* ------------------------------------------------------------------ receiver */

typedef struct {
    int frames, discards;
    uint16_t seqs[64];
    tqb_err_t errs[64];
} collect_t;

static void feed_all(tqb_rx_t *rx, const uint8_t *b, size_t n, collect_t *c, size_t chunk)
{
    while (n > 0) {
        tqb_rx_event_t ev;
        size_t take = chunk && chunk < n ? chunk : n;
        size_t used = tqb_rx_feed(rx, b, take, &ev);
        b += used;
        n -= used;
        if (ev.discard_err != TQB_OK && c->discards < 64) c->errs[c->discards++] = ev.discard_err;
        if (ev.got_frame && c->frames < 64) c->seqs[c->frames++] = ev.frame.hdr.seq;
    }
}

static size_t make_frame(uint16_t seq, uint8_t *out, size_t cap)
{
    tqb_message_t m;
    tqb_header_t h = hdr(seq, 1000u * seq);
    size_t n = 0;
    sample_message(seq % 8, &m);
    if (tqb_encode_frame(&h, &m, out, cap, &n) != TQB_OK) return 0;
    return n;
}

static void test_rx_garbage_before_frame(void)
{
    static uint8_t stream[4096], rxbuf[TQB_RX_BUF_MAX];
    size_t n = 0, k, chunk;
    for (chunk = 0; chunk < 4; chunk++) {
        tqb_rx_t rx;
        collect_t c;
        memset(&c, 0, sizeof c);
        n = 0;
        /* garbage with its own delimiter, then frames: garbage glued to the frame start */
        for (k = 0; k < 37; k++) stream[n++] = (uint8_t)(1 + rnd() % 255);
        stream[n++] = 0;
        for (k = 0; k < 20; k++) stream[n++] = (uint8_t)(1 + rnd() % 255); /* no delimiter: glued */
        n += make_frame(1, stream + n, sizeof stream - n);
        n += make_frame(2, stream + n, sizeof stream - n);
        tqb_rx_init(&rx, rxbuf, sizeof rxbuf);
        feed_all(&rx, stream, n, &c, chunk == 0 ? 0 : chunk == 1 ? 1 : chunk == 2 ? 7 : 64);
        CHECK(c.frames == 2 && c.seqs[0] == 1 && c.seqs[1] == 2, "chunk %u: frames %d", (unsigned)chunk, c.frames);
        CHECK(rx.stats.resyncs == 1 && rx.stats.discarded_bytes == 37 + 1 + 20, "resyncs %lu discarded %lu",
              (unsigned long)rx.stats.resyncs, (unsigned long)rx.stats.discarded_bytes);
    }
}

static void test_rx_doubled_delimiters_and_lone_zero(void)
{
    static uint8_t stream[2048], rxbuf[TQB_RX_BUF_MAX];
    size_t n = 0;
    tqb_rx_t rx;
    collect_t c;
    memset(&c, 0, sizeof c);
    stream[n++] = 0;
    stream[n++] = 0;
    n += make_frame(10, stream + n, sizeof stream - n);
    stream[n++] = 0;
    stream[n++] = 0;
    n += make_frame(11, stream + n, sizeof stream - n);
    tqb_rx_init(&rx, rxbuf, sizeof rxbuf);
    feed_all(&rx, stream, n, &c, 0);
    CHECK(c.frames == 2 && c.discards == 0, "frames %d discards %d", c.frames, c.discards);
    CHECK(rx.stats.bad_cobs + rx.stats.runt + rx.stats.bad_crc == 0, "empty pieces are not errors");
    CHECK(rx.stats.seq_gaps == 0, "consecutive seqs");
}

static void test_rx_bit_flip_then_good_frame(void)
{
    static uint8_t stream[4096], rxbuf[TQB_RX_BUF_MAX];
    size_t n = 0, f1, bit;
    int bad_total = 0;
    for (bit = 0; bit < 8 * 60; bit += 7) {
        tqb_rx_t rx;
        collect_t c;
        memset(&c, 0, sizeof c);
        n = make_frame(20, stream, sizeof stream);
        f1 = n;
        if (bit / 8 >= f1 - 1) break;
        stream[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        n += make_frame(21, stream + n, sizeof stream - n);
        tqb_rx_init(&rx, rxbuf, sizeof rxbuf);
        feed_all(&rx, stream, n, &c, 0);
        /* The damaged frame is lost (or, if the flip made a zero, split); the good one always arrives. */
        CHECK(c.frames >= 1 && c.seqs[c.frames - 1] == 21, "bit %u: good frame recovered", (unsigned)bit);
        CHECK(!(c.frames == 2 && c.seqs[0] == 20), "bit %u: damaged frame accepted", (unsigned)bit);
        bad_total += c.discards;
    }
    CHECK(bad_total > 0, "damage was noticed");
}

static void test_rx_truncated_frame_glued_to_next(void)
{
    static uint8_t stream[4096], rxbuf[TQB_RX_BUF_MAX];
    size_t cut;
    for (cut = 1; cut < 40; cut++) {
        tqb_rx_t rx;
        collect_t c;
        size_t n = make_frame(30, stream, sizeof stream);
        memset(&c, 0, sizeof c);
        if (cut + 2 > n) break; /* keep at least one byte of frame 30 */
        n = n - 1 - cut;        /* lose the tail and the delimiter of frame 30 */
        n += make_frame(31, stream + n, sizeof stream - n);
        tqb_rx_init(&rx, rxbuf, sizeof rxbuf);
        feed_all(&rx, stream, n, &c, 3);
        CHECK(c.frames == 1 && c.seqs[0] == 31 && rx.stats.resyncs == 1, "cut %u: frames %d resyncs %lu discards %d (%s)",
              (unsigned)cut, c.frames, (unsigned long)rx.stats.resyncs, c.discards, tqb_err_name(c.errs[0]));
    }
}

static void test_rx_oversize(void)
{
    static uint8_t stream[8192], rxbuf[TQB_RX_BUF_MAX];
    size_t n = 0, k;
    tqb_rx_t rx;
    collect_t c;
    memset(&c, 0, sizeof c);
    /* 5000 non-zero bytes and a frame glued behind them: oversize, counted once, frame recovered */
    for (k = 0; k < 5000; k++) stream[n++] = (uint8_t)(1 + rnd() % 255);
    n += make_frame(40, stream + n, sizeof stream - n);
    /* then a long run with its delimiter and nothing valid in it */
    for (k = 0; k < 3000; k++) stream[n++] = 0x55;
    stream[n++] = 0;
    n += make_frame(41, stream + n, sizeof stream - n);
    tqb_rx_init(&rx, rxbuf, sizeof rxbuf);
    feed_all(&rx, stream, n, &c, 100);
    CHECK(c.frames == 2 && c.seqs[0] == 40 && c.seqs[1] == 41, "frames %d", c.frames);
    CHECK(rx.stats.oversize == 2, "oversize %lu", (unsigned long)rx.stats.oversize);
    CHECK(rx.stats.bad_cobs + rx.stats.bad_crc + rx.stats.runt == 0, "one count per oversize piece");
    CHECK(c.discards == 2 && c.errs[0] == TQB_ERR_OVERSIZE && c.errs[1] == TQB_ERR_OVERSIZE, "discard reasons");
    CHECK(rx.len <= rx.cap, "bounded");
    {
        /* A small receiver (a device's 64 bytes) keeps taking small frames after a big one. */
        static uint8_t small[64];
        uint8_t s2[4096];
        size_t m = 0;
        tqb_message_t msg;
        tqb_header_t h = hdr(50, 0);
        size_t w = 0;
        memset(&c, 0, sizeof c);
        m += make_frame(0, s2, sizeof s2); /* HELLO: too big for 64 */
        sample_message(5, &msg);
        tqb_encode_frame(&h, &msg, s2 + m, sizeof s2 - m, &w);
        m += w;
        tqb_rx_init(&rx, small, sizeof small);
        feed_all(&rx, s2, m, &c, 0);
        CHECK(c.frames == 1 && c.seqs[0] == 50 && rx.stats.oversize == 1, "small receiver: frames %d", c.frames);
    }
}

static void test_rx_random_streams(void)
{
    /* Random chunks of random bytes with valid frames mixed in: every frame that arrives intact with
     * its delimiter, after a delimiter-ended piece, is found; memory stays bounded. */
    static uint8_t stream[20000], rxbuf[TQB_RX_BUF_MAX];
    int round;
    for (round = 0; round < 30; round++) {
        tqb_rx_t rx;
        collect_t c;
        size_t n = 0, k;
        int sent = 0;
        memset(&c, 0, sizeof c);
        while (n < sizeof stream - 3000 && sent < 60) {
            size_t g = rnd() % 50;
            for (k = 0; k < g; k++) stream[n++] = (uint8_t)rnd();
            stream[n++] = 0;
            n += make_frame((uint16_t)(100 + sent), stream + n, sizeof stream - n);
            sent++;
        }
        tqb_rx_init(&rx, rxbuf, sizeof rxbuf);
        feed_all(&rx, stream, n, &c, 1 + rnd() % 300);
        CHECK(c.frames == (sent < 64 ? sent : 64), "round %d: %d of %d frames", round, c.frames, sent);
        CHECK(rx.len <= rx.cap, "bounded");
    }
}

/* ------------------------------------------------------------------ device API */

typedef struct {
    uint8_t bytes[65536];
    size_t len;
    int fail;
} sink_t;

static int sink_write(void *user, const uint8_t *data, size_t len)
{
    sink_t *s = user;
    if (s->fail) return -1;
    if (s->len + len > sizeof s->bytes) return -1;
    memcpy(s->bytes + s->len, data, len);
    s->len += len;
    return 0;
}

typedef struct {
    int n;
    tqb_frame_t f[64];
    uint8_t store[64][TQB_MAX_FRAME];
    int discards;
} frames_t;

/* Decodes everything a device wrote, with a host-side receiver. */
static void sink_frames(sink_t *s, frames_t *out)
{
    static uint8_t rxbuf[TQB_RX_BUF_MAX];
    tqb_rx_t rx;
    size_t off = 0;
    memset(out, 0, sizeof *out);
    tqb_rx_init(&rx, rxbuf, sizeof rxbuf);
    while (off < s->len) {
        tqb_rx_event_t ev;
        off += tqb_rx_feed(&rx, s->bytes + off, s->len - off, &ev);
        if (ev.discard_err != TQB_OK) out->discards++;
        if (ev.got_frame && ev.msg_err == TQB_OK && out->n < 64) {
            /* Keep a decoded copy: re-decode the message from a private copy of the body. */
            tqb_frame_t *f = &out->f[out->n];
            memcpy(out->store[out->n], ev.frame.body, ev.frame.body_len);
            *f = ev.frame;
            f->body = out->store[out->n];
            tqb_parse_body(ev.frame.msg.type, f->body, f->body_len, &f->msg);
            out->n++;
        }
    }
}

static const tqb_channel_t dev_channels[3] = {{"a", "V", 0, 5}, {"b", "V", 0, 5}, {"c", "V", 0, 5}};
static const uint8_t dev_cmds[] = {1, 2, 3, 4};

static tqb_config_t dev_config(void)
{
    tqb_config_t c;
    memset(&c, 0, sizeof c);
    c.fw = "test 1";
    c.device_id = "c-node-01";
    c.channels = dev_channels;
    c.n_channels = 3;
    c.rate_hz = 100;
    c.batch = 10;
    c.heartbeat_ms = 500;
    c.commands = dev_cmds;
    c.n_commands = 4;
    return c;
}

static sink_t g_sink;
static frames_t g_frames;

static void test_device_begin_samples_heartbeat_hello(void)
{
    tqb_t t;
    tqb_config_t cfg = dev_config();
    static uint8_t tx[512], rx[64];
    float v[3] = {1, 2, 3};
    size_t need = tqb_tx_needed(&cfg);
    int i;
    memset(&g_sink, 0, sizeof g_sink);
    CHECK(need > 0 && need <= sizeof tx, "tx needed %u", (unsigned)need);
    CHECK(tqb_begin(&t, &cfg, tx, need - 1, rx, sizeof rx, sink_write, &g_sink, 0) == TQB_ERR_ARG, "too small tx");
    CHECK(tqb_begin(&t, &cfg, tx, need, rx, sizeof rx, sink_write, &g_sink, 0) == TQB_OK, "begin");
    CHECK(g_sink.len > 1 && g_sink.bytes[0] == 0x00, "a lone 0x00 first");
    for (i = 0; i < 25; i++) {
        v[0] = (float)i;
        tqb_add_sample(&t, v, (uint32_t)(10 * i));
        tqb_poll(&t, (uint32_t)(10 * i));
    }
    tqb_flush(&t, 250);
    tqb_poll(&t, 700);   /* idle 450 ms: nothing */
    tqb_poll(&t, 760);   /* idle 510 ms: HEARTBEAT */
    tqb_poll(&t, 10000); /* 10 s after boot: HELLO (and it counts as traffic: no heartbeat) */
    sink_frames(&g_sink, &g_frames);
    CHECK(g_frames.discards == 0, "no discards");
    CHECK(g_frames.n == 6, "frames %d", g_frames.n);
    if (g_frames.n < 6) return;
    for (i = 0; i < g_frames.n; i++) CHECK(g_frames.f[i].hdr.seq == i, "seq %d is %u", i, g_frames.f[i].hdr.seq);
    CHECK(g_frames.f[0].msg.type == TQB_HELLO && g_frames.f[0].msg.u.hello.n_channels == 3, "HELLO first");
    CHECK(g_frames.f[1].msg.type == TQB_SAMPLES && g_frames.f[1].msg.u.samples.n_values == 30 &&
              g_frames.f[1].hdr.time_ms == 0 && g_frames.f[1].msg.u.samples.period_us == 10000,
          "first batch");
    CHECK(g_frames.f[2].msg.type == TQB_SAMPLES && g_frames.f[2].hdr.time_ms == 100 &&
              tqb_sample_value(&g_frames.f[2].msg.u.samples, 3) == 11.0f,
          "second batch starts at sample 10");
    CHECK(g_frames.f[3].msg.type == TQB_SAMPLES && g_frames.f[3].msg.u.samples.n_values == 15, "flush of 5 samples");
    CHECK(g_frames.f[4].msg.type == TQB_HEARTBEAT && g_frames.f[4].msg.u.heartbeat.uptime_ms == 760, "heartbeat");
    CHECK(g_frames.f[5].msg.type == TQB_HELLO && g_frames.f[5].hdr.time_ms == 10000, "hello again");
}

static void test_device_samples_survive_other_frames(void)
{
    /* Buffered samples sit at the end of the tx buffer; frames sent meanwhile must not touch them. */
    tqb_t t;
    tqb_config_t cfg = dev_config();
    static uint8_t tx[1024], rx[64];
    float v[3];
    int i;
    memset(&g_sink, 0, sizeof g_sink);
    tqb_begin(&t, &cfg, tx, tqb_tx_needed(&cfg), rx, sizeof rx, sink_write, &g_sink, 0);
    for (i = 0; i < 10; i++) {
        v[0] = (float)i;
        v[1] = (float)(i * 2);
        v[2] = (float)(-i);
        if (i == 5) {
            tqb_log(&t, TQB_LOG_INFO, "a long log line that is certainly longer than the samples buffered so far, "
                                      "to make sure it would overwrite them if they shared the space",
                    50);
            tqb_ack(&t, 9, 0, "done", 50);
            tqb_poll(&t, 20000);
        }
        tqb_add_sample(&t, v, (uint32_t)(10 * i));
    }
    sink_frames(&g_sink, &g_frames);
    /* HELLO, LOG, ACK, HELLO (10 s), SAMPLES */
    CHECK(g_frames.n == 5 && g_frames.f[4].msg.type == TQB_SAMPLES, "frames %d", g_frames.n);
    if (g_frames.n != 5) return;
    for (i = 0; i < 10; i++) {
        const tqb_samples_t *s = &g_frames.f[4].msg.u.samples;
        CHECK(tqb_sample_value(s, 3 * i) == (float)i && tqb_sample_value(s, 3 * i + 1) == (float)(2 * i) &&
                  tqb_sample_value(s, 3 * i + 2) == (float)-i,
              "sample %d intact", i);
    }
}

static size_t host_frame(const tqb_message_t *m, uint16_t seq, uint8_t *out, size_t cap)
{
    tqb_header_t h = hdr(seq, 5);
    size_t n = 0;
    tqb_encode_frame(&h, m, out, cap, &n);
    return n;
}

static int auto_acks;
static void on_auto(void *user, const tqb_command_t *cmd, uint8_t status, int repeat)
{
    (void)user;
    (void)cmd;
    (void)status;
    (void)repeat;
    auto_acks++;
}

static void test_device_command_retry_dedup(void)
{
    tqb_t t;
    tqb_config_t cfg = dev_config();
    static uint8_t tx[512], rx[64], wire[128];
    tqb_message_t m;
    tqb_command_t cmd;
    size_t n;
    int got = 0, acks = 0, i;
    cfg.on_auto_ack = on_auto;
    auto_acks = 0;
    memset(&g_sink, 0, sizeof g_sink);
    tqb_begin(&t, &cfg, tx, sizeof tx, rx, sizeof rx, sink_write, &g_sink, 0);
    memset(&m, 0, sizeof m);
    m.type = TQB_COMMAND;
    m.u.command.id = 1234;
    m.u.command.code = TQB_CMD_REBOOT;
    n = host_frame(&m, 0, wire, sizeof wire);
    tqb_rx_bytes(&t, wire, n, 10);
    /* a retry before the application answered: ignored, the application's ACK will answer it */
    n = host_frame(&m, 1, wire, sizeof wire);
    tqb_rx_bytes(&t, wire, n, 11);
    while (tqb_poll_command(&t, &cmd)) {
        got++;
        CHECK(cmd.id == 1234 && cmd.code == TQB_CMD_REBOOT && !cmd.has_arg, "command");
        tqb_ack(&t, cmd.id, TQB_ACK_DONE, NULL, 12);
    }
    /* the ACK was lost: the host retries the same id, twice */
    n = host_frame(&m, 2, wire, sizeof wire);
    tqb_rx_bytes(&t, wire, n, 600);
    tqb_rx_bytes(&t, wire, n, 1200);
    while (tqb_poll_command(&t, &cmd)) got++;
    CHECK(got == 1, "command returned %d times", got);
    sink_frames(&g_sink, &g_frames);
    for (i = 0; i < g_frames.n; i++)
        if (g_frames.f[i].msg.type == TQB_ACK) {
            acks++;
            CHECK(g_frames.f[i].msg.u.ack.id == 1234 && g_frames.f[i].msg.u.ack.status == 0, "ack content");
        }
    CHECK(acks == 3, "acks %d (one answer, two re-ACKs)", acks);
    CHECK(auto_acks == 2 && t.stats.repeats == 3, "auto acks %d repeats %lu", auto_acks, (unsigned long)t.stats.repeats);
    /* unknown code: NACK 1 by the library, not returned, and re-NACKed on retry */
    m.u.command.id = 99;
    m.u.command.code = 9;
    n = host_frame(&m, 3, wire, sizeof wire);
    tqb_rx_bytes(&t, wire, n, 1300);
    tqb_rx_bytes(&t, wire, n, 1900);
    CHECK(!tqb_poll_command(&t, &cmd), "unsupported code not returned");
    sink_frames(&g_sink, &g_frames);
    acks = 0;
    for (i = 0; i < g_frames.n; i++)
        if (g_frames.f[i].msg.type == TQB_ACK && g_frames.f[i].msg.u.ack.id == 99) {
            acks++;
            CHECK(g_frames.f[i].msg.u.ack.status == TQB_ACK_UNSUPPORTED, "status 1");
        }
    CHECK(acks == 2, "NACKs %d", acks);
    /* the memory holds the last 4: after 4 newer commands, id 1234 is new again */
    for (i = 0; i < 4; i++) {
        m.u.command.id = 2000u + (uint32_t)i;
        m.u.command.code = TQB_CMD_RECALIBRATE;
        n = host_frame(&m, (uint16_t)(4 + i), wire, sizeof wire);
        tqb_rx_bytes(&t, wire, n, 2000);
        while (tqb_poll_command(&t, &cmd)) tqb_ack(&t, cmd.id, 0, NULL, 2000);
    }
    m.u.command.id = 1234;
    m.u.command.code = TQB_CMD_REBOOT;
    n = host_frame(&m, 9, wire, sizeof wire);
    tqb_rx_bytes(&t, wire, n, 2100);
    CHECK(tqb_poll_command(&t, &cmd) && cmd.id == 1234, "forgotten after 4 newer commands");
}

static void test_device_time_sync_and_restart(void)
{
    tqb_t t;
    tqb_config_t cfg = dev_config();
    static uint8_t tx[512], rx[64], wire[128];
    tqb_message_t m;
    tqb_command_t cmd;
    size_t n;
    int i, replies = 0;
    memset(&g_sink, 0, sizeof g_sink);
    tqb_begin(&t, &cfg, tx, sizeof tx, rx, sizeof rx, sink_write, &g_sink, 0);
    memset(&m, 0, sizeof m);
    m.type = TQB_TIME_SYNC;
    m.u.time_sync.nonce = 0xFFFFFFFFu;
    m.u.time_sync.host_ms = 1700000000123ull;
    n = host_frame(&m, 0, wire, sizeof wire);
    /* byte by byte, as a UART would deliver it */
    for (i = 0; (size_t)i < n; i++) tqb_rx_bytes(&t, wire + i, 1, 4321);
    CHECK(!tqb_poll_command(&t, &cmd), "time sync is no command");
    m.type = TQB_COMMAND;
    m.u.command.id = 5;
    m.u.command.code = TQB_CMD_REBOOT;
    n = host_frame(&m, 1, wire, sizeof wire);
    tqb_rx_bytes(&t, wire, n, 5000);
    CHECK(tqb_poll_command(&t, &cmd) && cmd.id == 5, "reboot command");
    tqb_ack(&t, 5, 0, NULL, 5001);
    tqb_restart(&t, 0);
    tqb_rx_bytes(&t, wire, n, 100); /* the retry of a REBOOT whose ACK was lost */
    CHECK(!tqb_poll_command(&t, &cmd), "no second reboot");
    sink_frames(&g_sink, &g_frames);
    for (i = 0; i < g_frames.n; i++) {
        const tqb_frame_t *f = &g_frames.f[i];
        if (f->msg.type == TQB_TIME_SYNC_REPLY) {
            replies++;
            CHECK(f->msg.u.time_sync_reply.nonce == 0xFFFFFFFFu && f->msg.u.time_sync_reply.host_ms == 1700000000123ull &&
                      f->msg.u.time_sync_reply.device_ms == 4321 && f->hdr.time_ms == 4321,
                  "reply fields");
        }
    }
    CHECK(replies == 1, "replies %d", replies);
    /* after the restart: HELLO with seq 0 again, then the re-ACK with seq 1 */
    CHECK(g_frames.n == 5 && g_frames.f[3].msg.type == TQB_HELLO && g_frames.f[3].hdr.seq == 0 &&
              g_frames.f[4].msg.type == TQB_ACK && g_frames.f[4].hdr.seq == 1,
          "restart sequence (%d frames)", g_frames.n);
}

static void test_device_hello_request(void)
{
    tqb_t t;
    tqb_config_t cfg = dev_config();
    static uint8_t tx[512], rx[64], wire[64];
    tqb_message_t m;
    size_t n;
    memset(&g_sink, 0, sizeof g_sink);
    tqb_begin(&t, &cfg, tx, sizeof tx, rx, sizeof rx, sink_write, &g_sink, 0);
    memset(&m, 0, sizeof m);
    m.type = TQB_HELLO_REQUEST;
    n = host_frame(&m, 0, wire, sizeof wire);
    tqb_rx_bytes(&t, wire, n, 3000);
    tqb_poll(&t, 3001);  /* the answer counts as traffic and restarts the 10 s HELLO period */
    tqb_poll(&t, 12999); /* 10 s after boot, but not after the answer: no HELLO */
    sink_frames(&g_sink, &g_frames);
    CHECK(g_frames.n == 3 && g_frames.f[1].msg.type == TQB_HELLO && g_frames.f[1].hdr.seq == 1 &&
              g_frames.f[1].hdr.time_ms == 3000 && g_frames.f[2].msg.type == TQB_HEARTBEAT,
          "HELLO at once (%d frames)", g_frames.n);
}

static void test_device_config_validation_and_write_errors(void)
{
    tqb_t t;
    static uint8_t tx[4096], rx[64];
    tqb_config_t cfg = dev_config();
    static const tqb_channel_t dup[2] = {{"a", "V", 0, 1}, {"a", "V", 0, 1}};
    static const tqb_channel_t bad_range[1] = {{"a", "V", 1, 1}};
    static const tqb_channel_t bad_name[1] = {{"a b", "V", 0, 1}};
    float v[3] = {0, 0, 0};
    int i;
    cfg.channels = dup;
    cfg.n_channels = 2;
    CHECK(tqb_tx_needed(&cfg) == 0, "duplicate names");
    cfg.channels = bad_range;
    cfg.n_channels = 1;
    CHECK(tqb_tx_needed(&cfg) == 0, "min < max");
    cfg.channels = bad_name;
    CHECK(tqb_tx_needed(&cfg) == 0, "channel name pattern");
    cfg = dev_config();
    cfg.device_id = "";
    CHECK(tqb_tx_needed(&cfg) == 0, "empty device id");
    cfg = dev_config();
    cfg.batch = 200; /* 200 x 3 x 4 bytes > MAX_FRAME */
    CHECK(tqb_tx_needed(&cfg) == 0, "batch too big for one frame");
    cfg.batch = 160;
    CHECK(tqb_tx_needed(&cfg) > 1920, "batch 160 fits: %u", (unsigned)tqb_tx_needed(&cfg));
    cfg = dev_config();
    memset(&g_sink, 0, sizeof g_sink);
    g_sink.fail = 1;
    CHECK(tqb_begin(&t, &cfg, tx, sizeof tx, rx, sizeof rx, sink_write, &g_sink, 0) == TQB_ERR_WRITE, "write failure reported");
    for (i = 0; i < 10; i++) tqb_add_sample(&t, v, 0);
    g_sink.fail = 0;
    tqb_poll(&t, 600);
    sink_frames(&g_sink, &g_frames);
    CHECK(g_frames.n == 1 && g_frames.f[0].msg.type == TQB_HEARTBEAT && g_frames.f[0].msg.u.heartbeat.dropped == 10 &&
              g_frames.f[0].hdr.seq == 2,
          "lost samples counted as dropped, seq counts the lost frames");
}

/* ------------------------------------------------------------------ golden vectors */

static const char *g_vectors_dir = "../vectors";

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        if (len) *len = (size_t)n;
    }
    return buf;
}

static void trim_end(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ')) s[--n] = '\0';
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The vector tests: one check per vector, failing when there is no vector at all. */
static int g_vector_count;

static void check_vector(const char *name)
{
    char path[1024];
    char *hex, *expect;
    static uint8_t wire[8192], wire2[8192], rxbuf[TQB_RX_BUF_MAX];
    static char got[16384];
    static tqb_expect_t ex;
    size_t n, chunk;
    snprintf(path, sizeof path, "%s/%s.hex", g_vectors_dir, name);
    hex = read_file(path, NULL);
    snprintf(path, sizeof path, "%s/%s.expect", g_vectors_dir, name);
    expect = read_file(path, NULL);
    CHECK(hex && expect, "%s: .hex and .expect must both exist", name);
    if (!hex || !expect) goto out;
    n = unhex(hex, wire, sizeof wire);
    CHECK(n <= sizeof wire, "%s: too long", name);
    trim_end(expect);
    /* whole, byte by byte, and in 7-byte chunks: the verdict must not depend on chunking (PROTOCOL §1) */
    for (chunk = 0; chunk < 3; chunk++) {
        tqb_rx_t rx;
        size_t off = 0;
        int frames = 0, discards = 0;
        tqb_err_t err = TQB_OK;
        got[0] = '\0';
        tqb_rx_init(&rx, rxbuf, sizeof rxbuf);
        while (off < n) {
            tqb_rx_event_t ev;
            size_t take = chunk == 0 ? n - off : chunk == 1 ? 1 : (n - off < 7 ? n - off : 7);
            off += tqb_rx_feed(&rx, wire + off, take, &ev);
            if (ev.discard_err != TQB_OK) {
                if (!discards) err = ev.discard_err;
                discards++;
            }
            if (ev.got_frame) {
                frames++;
                if (ev.msg_err != TQB_OK) {
                    if (!discards) err = ev.msg_err;
                    discards++;
                } else if (frames == 1) {
                    tqb_dump_frame(&ev.frame, got, sizeof got);
                }
            }
        }
        if (discards) tqb_dump_error(err, got, sizeof got);
        if (!discards && !frames) snprintf(got, sizeof got, "valid 0\nerror (nothing decoded)\n");
        trim_end(got);
        CHECK(strcmp(got, expect) == 0, "%s (chunk mode %u): decoded\n%s\n  --- expected\n%s", name, (unsigned)chunk, got,
              expect);
        CHECK(frames + discards == 1, "%s: %d frames, %d discards", name, frames, discards);
    }
    /* A valid vector's text, parsed and encoded again, gives the same bytes. */
    if (strncmp(expect, "valid 1", 7) == 0) {
        size_t n2 = 0;
        tqb_err_t e;
        CHECK(tqb_parse_expect(expect, &ex) == 0, "%s: .expect unparsable at line %d", name, ex.bad_line);
        e = tqb_encode_frame(&ex.frame.hdr, &ex.frame.msg, wire2, sizeof wire2, &n2);
        CHECK(e == TQB_OK, "%s: re-encode: %s", name, tqb_err_name(e));
        if (e == TQB_OK && !(n2 == n && memcmp(wire, wire2, n) == 0)) {
            static char h1[20000], h2[20000];
            size_t k = 0;
            while (k < n && k < n2 && wire[k] == wire2[k]) k++;
            hexstr(wire, n, h1, sizeof h1);
            hexstr(wire2, n2, h2, sizeof h2);
            CHECK(0, "%s: re-encoded bytes differ at offset %u\n  vector  %s\n  encoded %s", name, (unsigned)k, h1, h2);
        }
    }
out:
    free(hex);
    free(expect);
}

static void test_golden_vectors(void)
{
    DIR *d = opendir(g_vectors_dir);
    struct dirent *de;
    char *names[1024];
    int count = 0, i;
    if (!d) {
        CHECK(0, "vector directory %s missing: 0 vectors", g_vectors_dir);
        return;
    }
    while ((de = readdir(d)) != NULL && count < 1024) {
        size_t len = strlen(de->d_name);
        if (len > 4 && strcmp(de->d_name + len - 4, ".hex") == 0) {
            names[count] = malloc(len - 3);
            memcpy(names[count], de->d_name, len - 4);
            names[count][len - 4] = '\0';
            count++;
        }
    }
    closedir(d);
    qsort(names, (size_t)count, sizeof names[0], cmp_names);
    g_vector_count = count;
    printf("# %d vectors in %s\n", count, g_vectors_dir);
    CHECK(count > 0, "0 vectors in %s: the golden-vector test cannot pass without them", g_vectors_dir);
    for (i = 0; i < count; i++) {
        int before = g_cur_failed;
        check_vector(names[i]);
        printf("#   %s %s\n", g_cur_failed == before ? "ok  " : "FAIL", names[i]);
        free(names[i]);
    }
}

int main(int argc, char **argv)
{
    if (argc > 1) g_vectors_dir = argv[1];
    run("CRC-32C check value 0xE3069283 (PROTOCOL §4)", test_crc_check_value);
    run("COBS round trips: runs of 253..2048, all zero, random", test_cobs_round_trips);
    run("COBS encodes known inputs like Cheshire & Baker", test_cobs_known_encodings);
    run("COBS decoding rejects codes past the end and zero bytes", test_cobs_decode_errors);
    run("COBS encodes and decodes in place", test_cobs_in_place);
    run("CBOR writer: shortest heads, the number rule, float32 big-endian", test_cbor_writer_known_values);
    run("CBOR reader: integers and floats of every width; refuses indefinite and truncated items", test_cbor_reader);
    run("message bodies: required keys, limits, unknown keys skipped", test_parse_body_rules);
    run("200k random and mutated bodies never crash or overrun the readers", test_reader_fuzz);
    run("every message type survives encode -> receive -> encode", test_round_trip_every_type);
    run("encoder matches independently computed frames", test_known_answer_frames);
    run("frame checks come in PROTOCOL §3 order", test_frame_errors_in_order);
    run("a MAX_FRAME frame fits TQB_TX_BUF_MAX and TQB_RX_BUF_MAX", test_max_frame_fits_tx_buf_max);
    run("receiver: garbage before a frame and a frame glued to garbage", test_rx_garbage_before_frame);
    run("receiver: doubled delimiters and lone zeros are ignored", test_rx_doubled_delimiters_and_lone_zero);
    run("receiver: a bit-flipped frame is dropped, the next one arrives", test_rx_bit_flip_then_good_frame);
    run("receiver: a truncated frame glued to the next one is resynchronised", test_rx_truncated_frame_glued_to_next);
    run("receiver: oversize runs are counted once and stay bounded", test_rx_oversize);
    run("receiver: random garbage between frames loses no frame", test_rx_random_streams);
    run("device: 0x00 + HELLO at begin, batches, flush, heartbeat when idle, HELLO every 10 s",
        test_device_begin_samples_heartbeat_hello);
    run("device: buffered samples survive frames sent meanwhile", test_device_samples_survive_other_frames);
    run("device: a retried command id is re-ACKed and returned once (PROTOCOL §6)", test_device_command_retry_dedup);
    run("device: TIME_SYNC answered; after restart a REBOOT retry is not executed again",
        test_device_time_sync_and_restart);
    run("device: HELLO_REQUEST is answered with HELLO at once (PROTOCOL §6)", test_device_hello_request);
    run("device: config validated; failed writes count dropped samples", test_device_config_validation_and_write_errors);
    run("golden vectors decode to their .expect and re-encode to their .hex", test_golden_vectors);
    printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed ? 1 : 0;
}
