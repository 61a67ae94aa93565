/*
 * tinyqa_bridge.c — see tinyqa_bridge.h. Sections cited as PROTOCOL §n refer to
 * firmware-bridge/PROTOCOL.md.
 *
 * Portability notes: multi-byte fields are assembled byte by byte, never by casting pointers, so the
 * same code runs on little- and big-endian MCUs and never makes an unaligned access; float bits move
 * through memcpy. No heap, no recursion.
 */
#include "tinyqa_bridge.h"

#include <string.h>

const char *tqb_err_name(tqb_err_t e)
{
    switch (e) {
    case TQB_OK: return "ok";
    case TQB_ERR_BAD_COBS: return "bad_cobs";
    case TQB_ERR_RUNT: return "runt";
    case TQB_ERR_OVERSIZE: return "oversize";
    case TQB_ERR_BAD_CRC: return "bad_crc";
    case TQB_ERR_BAD_VERSION: return "bad_version";
    case TQB_ERR_UNKNOWN_FLAGS: return "unknown_flags";
    case TQB_ERR_BAD_BODY: return "bad_body";
    case TQB_ERR_UNKNOWN_TYPE: return "unknown_type";
    case TQB_ERR_BAD_MESSAGE: return "bad_message";
    case TQB_ERR_NO_SPACE: return "no_space";
    case TQB_ERR_ARG: return "bad_argument";
    case TQB_ERR_WRITE: return "write_failed";
    default: return "unknown_error";
    }
}

/* ================================================================ CRC-32C (PROTOCOL §4) */

#if defined(__AVR__) && !defined(TQB_CRC_FULL_TABLE)
#define TQB_CRC_NIBBLE 1
#endif

#ifdef TQB_CRC_NIBBLE
/* Half a byte per step: 64 bytes of table. For AVR, where const data is copied into RAM and a
 * 1 KB table would take half of an ATmega328's 2 KB. */
static const uint32_t crc_table[16] = {
    0x00000000u, 0x105EC76Fu, 0x20BD8EDEu, 0x30E349B1u,
    0x417B1DBCu, 0x5125DAD3u, 0x61C69362u, 0x7198540Du,
    0x82F63B78u, 0x92A8FC17u, 0xA24BB5A6u, 0xB21572C9u,
    0xC38D26C4u, 0xD3D3E1ABu, 0xE330A81Au, 0xF36E6F75u,
};

static uint32_t crc_step(uint32_t crc, uint8_t b)
{
    crc = crc_table[(crc ^ b) & 0x0Fu] ^ (crc >> 4);
    return crc_table[(crc ^ (uint32_t)(b >> 4)) & 0x0Fu] ^ (crc >> 4);
}
#else
/* Reflected polynomial 0x82F63B78, one entry per byte value. A const table so that it can live in
 * flash: 1 KB, where the MCU has no CRC-32C instruction (PROTOCOL §4). */
static const uint32_t crc_table[256] = {
    0x00000000u, 0xF26B8303u, 0xE13B70F7u, 0x1350F3F4u, 0xC79A971Fu, 0x35F1141Cu,
    0x26A1E7E8u, 0xD4CA64EBu, 0x8AD958CFu, 0x78B2DBCCu, 0x6BE22838u, 0x9989AB3Bu,
    0x4D43CFD0u, 0xBF284CD3u, 0xAC78BF27u, 0x5E133C24u, 0x105EC76Fu, 0xE235446Cu,
    0xF165B798u, 0x030E349Bu, 0xD7C45070u, 0x25AFD373u, 0x36FF2087u, 0xC494A384u,
    0x9A879FA0u, 0x68EC1CA3u, 0x7BBCEF57u, 0x89D76C54u, 0x5D1D08BFu, 0xAF768BBCu,
    0xBC267848u, 0x4E4DFB4Bu, 0x20BD8EDEu, 0xD2D60DDDu, 0xC186FE29u, 0x33ED7D2Au,
    0xE72719C1u, 0x154C9AC2u, 0x061C6936u, 0xF477EA35u, 0xAA64D611u, 0x580F5512u,
    0x4B5FA6E6u, 0xB93425E5u, 0x6DFE410Eu, 0x9F95C20Du, 0x8CC531F9u, 0x7EAEB2FAu,
    0x30E349B1u, 0xC288CAB2u, 0xD1D83946u, 0x23B3BA45u, 0xF779DEAEu, 0x05125DADu,
    0x1642AE59u, 0xE4292D5Au, 0xBA3A117Eu, 0x4851927Du, 0x5B016189u, 0xA96AE28Au,
    0x7DA08661u, 0x8FCB0562u, 0x9C9BF696u, 0x6EF07595u, 0x417B1DBCu, 0xB3109EBFu,
    0xA0406D4Bu, 0x522BEE48u, 0x86E18AA3u, 0x748A09A0u, 0x67DAFA54u, 0x95B17957u,
    0xCBA24573u, 0x39C9C670u, 0x2A993584u, 0xD8F2B687u, 0x0C38D26Cu, 0xFE53516Fu,
    0xED03A29Bu, 0x1F682198u, 0x5125DAD3u, 0xA34E59D0u, 0xB01EAA24u, 0x42752927u,
    0x96BF4DCCu, 0x64D4CECFu, 0x77843D3Bu, 0x85EFBE38u, 0xDBFC821Cu, 0x2997011Fu,
    0x3AC7F2EBu, 0xC8AC71E8u, 0x1C661503u, 0xEE0D9600u, 0xFD5D65F4u, 0x0F36E6F7u,
    0x61C69362u, 0x93AD1061u, 0x80FDE395u, 0x72966096u, 0xA65C047Du, 0x5437877Eu,
    0x4767748Au, 0xB50CF789u, 0xEB1FCBADu, 0x197448AEu, 0x0A24BB5Au, 0xF84F3859u,
    0x2C855CB2u, 0xDEEEDFB1u, 0xCDBE2C45u, 0x3FD5AF46u, 0x7198540Du, 0x83F3D70Eu,
    0x90A324FAu, 0x62C8A7F9u, 0xB602C312u, 0x44694011u, 0x5739B3E5u, 0xA55230E6u,
    0xFB410CC2u, 0x092A8FC1u, 0x1A7A7C35u, 0xE811FF36u, 0x3CDB9BDDu, 0xCEB018DEu,
    0xDDE0EB2Au, 0x2F8B6829u, 0x82F63B78u, 0x709DB87Bu, 0x63CD4B8Fu, 0x91A6C88Cu,
    0x456CAC67u, 0xB7072F64u, 0xA457DC90u, 0x563C5F93u, 0x082F63B7u, 0xFA44E0B4u,
    0xE9141340u, 0x1B7F9043u, 0xCFB5F4A8u, 0x3DDE77ABu, 0x2E8E845Fu, 0xDCE5075Cu,
    0x92A8FC17u, 0x60C37F14u, 0x73938CE0u, 0x81F80FE3u, 0x55326B08u, 0xA759E80Bu,
    0xB4091BFFu, 0x466298FCu, 0x1871A4D8u, 0xEA1A27DBu, 0xF94AD42Fu, 0x0B21572Cu,
    0xDFEB33C7u, 0x2D80B0C4u, 0x3ED04330u, 0xCCBBC033u, 0xA24BB5A6u, 0x502036A5u,
    0x4370C551u, 0xB11B4652u, 0x65D122B9u, 0x97BAA1BAu, 0x84EA524Eu, 0x7681D14Du,
    0x2892ED69u, 0xDAF96E6Au, 0xC9A99D9Eu, 0x3BC21E9Du, 0xEF087A76u, 0x1D63F975u,
    0x0E330A81u, 0xFC588982u, 0xB21572C9u, 0x407EF1CAu, 0x532E023Eu, 0xA145813Du,
    0x758FE5D6u, 0x87E466D5u, 0x94B49521u, 0x66DF1622u, 0x38CC2A06u, 0xCAA7A905u,
    0xD9F75AF1u, 0x2B9CD9F2u, 0xFF56BD19u, 0x0D3D3E1Au, 0x1E6DCDEEu, 0xEC064EEDu,
    0xC38D26C4u, 0x31E6A5C7u, 0x22B65633u, 0xD0DDD530u, 0x0417B1DBu, 0xF67C32D8u,
    0xE52CC12Cu, 0x1747422Fu, 0x49547E0Bu, 0xBB3FFD08u, 0xA86F0EFCu, 0x5A048DFFu,
    0x8ECEE914u, 0x7CA56A17u, 0x6FF599E3u, 0x9D9E1AE0u, 0xD3D3E1ABu, 0x21B862A8u,
    0x32E8915Cu, 0xC083125Fu, 0x144976B4u, 0xE622F5B7u, 0xF5720643u, 0x07198540u,
    0x590AB964u, 0xAB613A67u, 0xB831C993u, 0x4A5A4A90u, 0x9E902E7Bu, 0x6CFBAD78u,
    0x7FAB5E8Cu, 0x8DC0DD8Fu, 0xE330A81Au, 0x115B2B19u, 0x020BD8EDu, 0xF0605BEEu,
    0x24AA3F05u, 0xD6C1BC06u, 0xC5914FF2u, 0x37FACCF1u, 0x69E9F0D5u, 0x9B8273D6u,
    0x88D28022u, 0x7AB90321u, 0xAE7367CAu, 0x5C18E4C9u, 0x4F48173Du, 0xBD23943Eu,
    0xF36E6F75u, 0x0105EC76u, 0x12551F82u, 0xE03E9C81u, 0x34F4F86Au, 0xC69F7B69u,
    0xD5CF889Du, 0x27A40B9Eu, 0x79B737BAu, 0x8BDCB4B9u, 0x988C474Du, 0x6AE7C44Eu,
    0xBE2DA0A5u, 0x4C4623A6u, 0x5F16D052u, 0xAD7D5351u,
};

static uint32_t crc_step(uint32_t crc, uint8_t b)
{
    return crc_table[(crc ^ b) & 0xFFu] ^ (crc >> 8);
}
#endif

uint32_t tqb_crc32c_update(uint32_t crc, const uint8_t *data, size_t len)
{
    size_t i;
    /* Undo the final XOR so pieces chain: update(update(0, a), b) == crc32c(a ‖ b). */
    crc = ~crc;
    for (i = 0; i < len; i++) crc = crc_step(crc, data[i]);
    return ~crc;
}

uint32_t tqb_crc32c(const uint8_t *data, size_t len)
{
    return tqb_crc32c_update(0, data, len);
}

/* ================================================================ little-endian helpers (PROTOCOL §3) */

static void put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v & 0xFFu);
    p[1] = (uint8_t)(v >> 8);
}

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v & 0xFFu);
    p[1] = (uint8_t)((v >> 8) & 0xFFu);
    p[2] = (uint8_t)((v >> 16) & 0xFFu);
    p[3] = (uint8_t)(v >> 24);
}

static uint16_t get_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | ((uint16_t)p[1] << 8));
}

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static uint32_t float_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float bits_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* ================================================================ COBS (PROTOCOL §2) */

size_t tqb_cobs_encode(const uint8_t *src, size_t len, uint8_t *dst, size_t cap)
{
    /* Cheshire & Baker's StuffData: a run closes at each zero, after 254 data bytes, and at the
     * end, so a full last run is followed by a 0x01 code — the same bytes the TypeScript encoder
     * writes. Reading src[i] before writing dst[out] keeps the overlapping case correct: out never
     * passes the read position when dst + 1 + len / 254 <= src. */
    size_t i, code_at = 0, out = 1;
    uint8_t code = 1;
    if (cap == 0) return 0;
    for (i = 0; i < len; i++) {
        uint8_t b = src[i];
        if (b != 0) {
            if (out >= cap) return 0;
            dst[out++] = b;
            if (++code != 0xFFu) continue;
        }
        if (out >= cap) return 0;
        dst[code_at] = code;
        code_at = out++;
        code = 1;
    }
    dst[code_at] = code;
    return out;
}

tqb_err_t tqb_cobs_decode(const uint8_t *src, size_t len, uint8_t *dst, size_t cap, size_t *out_len)
{
    /* The write index never passes the read index, so dst == src works. */
    size_t i = 0, n = 0, k;
    while (i < len) {
        uint8_t code = src[i++];
        if (code == 0 || (size_t)(code - 1u) > len - i) return TQB_ERR_BAD_COBS;
        for (k = 1; k < code; k++) {
            uint8_t b = src[i++];
            if (b == 0) return TQB_ERR_BAD_COBS;
            if (n >= cap) return TQB_ERR_NO_SPACE;
            dst[n++] = b;
        }
        /* A code below 255 stands for its bytes and a zero — except the last, whose zero is the
         * delimiter itself. */
        if (code != 0xFFu && i < len) {
            if (n >= cap) return TQB_ERR_NO_SPACE;
            dst[n++] = 0;
        }
    }
    *out_len = n;
    return TQB_OK;
}

/* Decoded length of a piece without writing it; -1 when it is not valid COBS. */
static long cobs_decoded_len(const uint8_t *src, size_t len)
{
    size_t i = 0, k;
    long n = 0;
    while (i < len) {
        uint8_t code = src[i++];
        if (code == 0 || (size_t)(code - 1u) > len - i) return -1;
        for (k = 1; k < code; k++)
            if (src[i++] == 0) return -1;
        n += (long)code - 1;
        if (code != 0xFFu && i < len) n++;
    }
    return n;
}

/* ================================================================ CBOR writer (PROTOCOL §5) */

void tqb_cbor_writer_init(tqb_cbor_writer_t *w, uint8_t *buf, size_t cap)
{
    /* buf == NULL measures: lengths are counted, nothing is written. */
    w->buf = buf;
    w->cap = buf ? cap : (size_t)-1;
    w->len = 0;
    w->overflow = 0;
}

static int w_room(tqb_cbor_writer_t *w, size_t n)
{
    if (w->overflow || n > w->cap - w->len) {
        w->overflow = 1;
        return 0;
    }
    return 1;
}

static void w_byte(tqb_cbor_writer_t *w, uint8_t b)
{
    if (!w_room(w, 1)) return;
    if (w->buf) w->buf[w->len] = b;
    w->len++;
}

/* Every head in its shortest form (PROTOCOL §5, RFC 8949 §4.2.1). */
static void w_head(tqb_cbor_writer_t *w, uint8_t major, uint64_t v)
{
    uint8_t mt = (uint8_t)(major << 5);
    int bytes, i;
    /* All or nothing: a head is never left half-written. */
    if (!w_room(w, v < 24 ? 1 : v <= 0xFFu ? 2 : v <= 0xFFFFu ? 3 : v <= 0xFFFFFFFFu ? 5 : 9)) return;
    if (v < 24) {
        w_byte(w, (uint8_t)(mt | v));
        return;
    }
    if (v <= 0xFFu) {
        w_byte(w, mt | 24);
        bytes = 1;
    } else if (v <= 0xFFFFu) {
        w_byte(w, mt | 25);
        bytes = 2;
    } else if (v <= 0xFFFFFFFFu) {
        w_byte(w, mt | 26);
        bytes = 4;
    } else {
        w_byte(w, mt | 27);
        bytes = 8;
    }
    for (i = bytes - 1; i >= 0; i--) w_byte(w, (uint8_t)((v >> (8 * i)) & 0xFFu));
}

void tqb_cbor_uint(tqb_cbor_writer_t *w, uint64_t v) { w_head(w, 0, v); }
void tqb_cbor_nint(tqb_cbor_writer_t *w, uint64_t n) { w_head(w, 1, n); }
void tqb_cbor_array(tqb_cbor_writer_t *w, size_t n) { w_head(w, 4, n); }
void tqb_cbor_map(tqb_cbor_writer_t *w, size_t n) { w_head(w, 5, n); }
void tqb_cbor_tag(tqb_cbor_writer_t *w, uint64_t tag) { w_head(w, 6, tag); }

void tqb_cbor_float32(tqb_cbor_writer_t *w, float v)
{
    uint32_t u = float_bits(v);
    w_byte(w, 0xFA);
    /* CBOR is big-endian (RFC 8949 §3). */
    w_byte(w, (uint8_t)(u >> 24));
    w_byte(w, (uint8_t)((u >> 16) & 0xFFu));
    w_byte(w, (uint8_t)((u >> 8) & 0xFFu));
    w_byte(w, (uint8_t)(u & 0xFFu));
}

/* double -> float with IEEE round-to-nearest, without the undefined behaviour of converting a
 * finite value beyond the float range (C99 6.3.1.5). */
static float to_float32(double v)
{
    if (v > 0x1.fffffep127 || v < -0x1.fffffep127) {
        /* From half an ulp above FLT_MAX (2^103) on, round-to-nearest gives infinity, like
         * Math.fround. Written as a difference so that no constant exceeds a 32-bit double (AVR). */
        double excess = (v > 0 ? v : -v) - 0x1.fffffep127;
        int inf = excess >= 0x1p103;
        uint32_t sign = v < 0 ? 0x80000000u : 0u;
        return bits_float(sign | (inf ? 0x7F800000u : 0x7F7FFFFFu));
    }
    return (float)v;
}

void tqb_cbor_number(tqb_cbor_writer_t *w, double v)
{
    /* PROTOCOL §5: integral |v| < 2^32 as an integer, anything else (fractions, NaN, infinities,
     * huge values) as float32. The comparisons are false for NaN. */
    if (v > -4294967296.0 && v < 4294967296.0) {
        if (v >= 0) {
            uint32_t u = (uint32_t)v;
            if ((double)u == v) {
                tqb_cbor_uint(w, u);
                return;
            }
        } else {
            uint32_t u = (uint32_t)(-v);
            if ((double)u == -v) {
                tqb_cbor_nint(w, (uint64_t)u - 1u);
                return;
            }
        }
    }
    tqb_cbor_float32(w, to_float32(v));
}

static void w_raw(tqb_cbor_writer_t *w, const uint8_t *b, size_t len)
{
    if (!w_room(w, len)) return;
    /* memmove: the device's buffered samples lie in the same buffer as the frame being built. */
    if (w->buf && len) memmove(w->buf + w->len, b, len);
    w->len += len;
}

void tqb_cbor_text(tqb_cbor_writer_t *w, const char *s, size_t len)
{
    w_head(w, 3, len);
    w_raw(w, (const uint8_t *)s, len);
}

void tqb_cbor_bytes(tqb_cbor_writer_t *w, const uint8_t *b, size_t len)
{
    w_head(w, 2, len);
    w_raw(w, b, len);
}

/* ================================================================ CBOR reader (PROTOCOL §5) */

int tqb_cbor_head(tqb_cbor_reader_t *r, uint8_t *major, uint64_t *arg, uint8_t *ai)
{
    size_t pos = r->pos, n, i;
    uint8_t ib;
    uint64_t v;
    if (pos >= r->len) return -1;
    ib = r->p[pos++];
    *major = (uint8_t)(ib >> 5);
    *ai = (uint8_t)(ib & 0x1Fu);
    if (*ai < 24) {
        v = *ai;
    } else if (*ai <= 27) {
        n = (size_t)1 << (*ai - 24);
        if (n > r->len - pos) return -1;
        v = 0;
        for (i = 0; i < n; i++) v = (v << 8) | r->p[pos++];
    } else {
        /* 28..30 are reserved; 31 is an indefinite length or "break": definite lengths only. */
        return -1;
    }
    /* RFC 8949 §3.3: a one-byte simple value below 32 is not well-formed. */
    if (*major == 7 && *ai == 24 && v < 32) return -1;
    *arg = v;
    r->pos = pos;
    return 0;
}

/* Skips one item. check_typed: also require what RFC 8746 requires of tag 85 (a byte string whose
 * length is a multiple of 4), which is how a body is checked (PROTOCOL §5). Iterative: `pending`
 * counts the items still to skip, so nesting costs no stack. */
static int cbor_skip(tqb_cbor_reader_t *r, int check_typed)
{
    uint64_t pending = 1;
    int want_f32 = 0;
    size_t start = r->pos;
    while (pending > 0) {
        uint8_t major, ai;
        uint64_t arg;
        size_t left;
        if (tqb_cbor_head(r, &major, &arg, &ai) != 0) goto fail;
        pending--;
        left = r->len - r->pos;
        if (want_f32 && (major != 2 || arg % 4u != 0)) goto fail;
        want_f32 = 0;
        switch (major) {
        case 2:
        case 3:
            if (arg > left) goto fail;
            r->pos += (size_t)arg;
            break;
        case 4:
            /* Every item takes at least one byte: a count beyond what is left is malformed,
             * and this bound keeps `pending` from overflowing. */
            if (arg > left) goto fail;
            pending += arg;
            break;
        case 5:
            if (arg > left / 2u) goto fail;
            pending += 2u * arg;
            break;
        case 6:
            if (check_typed && arg == 85) want_f32 = 1;
            pending++;
            break;
        default: /* 0, 1: integers; 7: simple values and floats, their bytes already read */
            break;
        }
    }
    return 0;
fail:
    r->pos = start;
    return -1;
}

int tqb_cbor_skip(tqb_cbor_reader_t *r)
{
    return cbor_skip(r, 0);
}

static double half_to_double(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1Fu, mant = h & 0x3FFu;
    double v;
    if (exp == 0) {
        /* Subnormal: mant * 2^-24, exact in a double. */
        v = (double)mant / 16777216.0;
        return sign ? -v : v;
    }
    if (exp == 31) return (double)bits_float(sign | 0x7F800000u | (mant << 13));
    return (double)bits_float(sign | ((exp - 15u + 127u) << 23) | (mant << 13));
}

static double f64_to_double(uint64_t u)
{
    double d;
    uint32_t sign, mant;
    int32_t exp;
    if (sizeof(double) == sizeof(uint64_t)) {
        memcpy(&d, &u, sizeof d);
        return d;
    }
    /* A toolchain whose double is 32 bits (AVR): narrow by hand, truncating the mantissa. */
    sign = (uint32_t)(u >> 32) & 0x80000000u;
    exp = (int32_t)((u >> 52) & 0x7FFu);
    mant = (uint32_t)((u >> 29) & 0x7FFFFFu);
    if (exp == 0x7FF) return (double)bits_float(sign | 0x7F800000u | (mant ? (mant | 0x400000u) : 0u));
    exp = exp - 1023 + 127;
    if (exp >= 255) return (double)bits_float(sign | 0x7F800000u);
    if (exp <= 0) return (double)bits_float(sign);
    return (double)bits_float(sign | ((uint32_t)exp << 23) | mant);
}

int tqb_cbor_read_number(tqb_cbor_reader_t *r, double *v)
{
    size_t start = r->pos;
    uint8_t major, ai;
    uint64_t arg;
    if (tqb_cbor_head(r, &major, &arg, &ai) != 0) return -1;
    if (major == 0) {
        *v = (double)arg;
        return 0;
    }
    if (major == 1) {
        *v = -(double)arg - 1.0;
        return 0;
    }
    if (major == 7) {
        /* PROTOCOL §5: floats of any width wherever a number is expected. */
        if (ai == 25) {
            *v = half_to_double((uint16_t)arg);
            return 0;
        }
        if (ai == 26) {
            *v = (double)bits_float((uint32_t)arg);
            return 0;
        }
        if (ai == 27) {
            *v = f64_to_double(arg);
            return 0;
        }
    }
    r->pos = start;
    return -1;
}

/* ================================================================ messages (PROTOCOL §6) */

#define ABSENT ((size_t)-1)
/* The host's numbers are IEEE doubles: the TypeScript reader accepts unsigned integers up to 2^53,
 * and so does this one, so that both sides agree on which frames are valid. */
#define UINT_MAX_SAFE 9007199254740992.0
#define U32_MAX 4294967295.0

tqb_text_t tqb_text(const char *s)
{
    tqb_text_t t;
    t.ptr = s ? s : "";
    t.len = s ? strlen(s) : 0;
    return t;
}

static int is_finite(double v)
{
    return v == v && v - v == 0.0;
}

static tqb_cbor_reader_t reader_at(const uint8_t *p, size_t len, size_t pos)
{
    tqb_cbor_reader_t r;
    r.p = p;
    r.len = len;
    r.pos = pos;
    return r;
}

/* A number field: finite (the TypeScript reader treats NaN and infinities as absent). */
static int rd_num(const uint8_t *p, size_t len, size_t pos, double *v)
{
    tqb_cbor_reader_t r = reader_at(p, len, pos);
    if (pos == ABSENT || tqb_cbor_read_number(&r, v) != 0) return -1;
    return is_finite(*v) ? 0 : -1;
}

/* An unsigned integer field, at most `max`. An integral float is accepted too: PROTOCOL §5 lets
 * readers take floats wherever a number is expected, and the TypeScript reader does the same. */
static int rd_uint(const uint8_t *p, size_t len, size_t pos, double max, uint64_t *v)
{
    tqb_cbor_reader_t r = reader_at(p, len, pos);
    uint8_t major, ai;
    uint64_t arg;
    double d;
    if (pos == ABSENT) return -1;
    if (tqb_cbor_head(&r, &major, &arg, &ai) != 0) return -1;
    if (major == 0) {
        if ((double)arg > max) return -1;
        *v = arg;
        return 0;
    }
    if (rd_num(p, len, pos, &d) != 0 || d < 0 || d > max || (double)(uint64_t)d != d) return -1;
    *v = (uint64_t)d;
    return 0;
}

static int rd_text(const uint8_t *p, size_t len, size_t pos, size_t max, tqb_text_t *t)
{
    tqb_cbor_reader_t r = reader_at(p, len, pos);
    uint8_t major, ai;
    uint64_t arg;
    if (pos == ABSENT || tqb_cbor_head(&r, &major, &arg, &ai) != 0) return -1;
    if (major != 3 || arg > max || arg > r.len - r.pos) return -1;
    t->ptr = (const char *)(r.p + r.pos);
    t->len = (size_t)arg;
    return 0;
}

/* PROTOCOL §6: device ids and channel names match [A-Za-z0-9_.-]{1,64}. */
static int valid_name(const char *s, size_t len)
{
    size_t i;
    if (len < 1 || len > TQB_MAX_NAME) return 0;
    for (i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '.' || c == '-'))
            return 0;
    }
    return 1;
}

/* Reads a map at *pos, recording where the values of keys 0..nf-1 start; other keys, of any type,
 * are skipped (PROTOCOL §8). A repeated key: the last one counts. */
static int map_fields(const uint8_t *p, size_t len, size_t *pos, size_t *fields, unsigned nf)
{
    tqb_cbor_reader_t r = reader_at(p, len, *pos);
    uint8_t major, ai;
    uint64_t n, i, key;
    unsigned f;
    for (f = 0; f < nf; f++) fields[f] = ABSENT;
    if (tqb_cbor_head(&r, &major, &n, &ai) != 0 || major != 5) return -1;
    for (i = 0; i < n; i++) {
        size_t at = r.pos;
        int known = 0;
        if (tqb_cbor_head(&r, &major, &key, &ai) == 0 && major == 0) {
            known = key < nf;
        } else {
            r.pos = at;
            if (tqb_cbor_skip(&r) != 0) return -1;
        }
        if (known) fields[key] = r.pos;
        if (tqb_cbor_skip(&r) != 0) return -1;
    }
    *pos = r.pos;
    return 0;
}

/* One channel map of a HELLO at *pos; moves past it. */
static int parse_channel(const uint8_t *p, size_t len, size_t *pos, tqb_channel_view_t *c)
{
    size_t f[4];
    if (map_fields(p, len, pos, f, 4) != 0) return -1;
    if (rd_text(p, len, f[0], TQB_MAX_NAME, &c->name) != 0 || !valid_name(c->name.ptr, c->name.len)) return -1;
    /* A missing or unusable unit reads as empty, as on the TypeScript side. */
    if (rd_text(p, len, f[1], TQB_MAX_NAME, &c->unit) != 0) {
        c->unit.ptr = "";
        c->unit.len = 0;
    }
    if (rd_num(p, len, f[2], &c->min) != 0 || rd_num(p, len, f[3], &c->max) != 0) return -1;
    return c->min < c->max ? 0 : -1;
}

int tqb_hello_channel(const tqb_hello_t *h, size_t i, tqb_channel_view_t *out)
{
    size_t pos = 0, k;
    if (i >= h->n_channels) return -1;
    if (h->channels) {
        out->name = tqb_text(h->channels[i].name);
        out->unit = tqb_text(h->channels[i].unit);
        out->min = h->channels[i].min;
        out->max = h->channels[i].max;
        return 0;
    }
    if (!h->channels_cbor) return -1;
    for (k = 0; k < i; k++) {
        tqb_cbor_reader_t r = reader_at(h->channels_cbor, h->channels_cbor_len, pos);
        if (tqb_cbor_skip(&r) != 0) return -1;
        pos = r.pos;
    }
    return parse_channel(h->channels_cbor, h->channels_cbor_len, &pos, out);
}

uint32_t tqb_sample_bits(const tqb_samples_t *s, size_t i)
{
    if (i >= s->n_values) return 0x7FC00000u;
    if (s->values_le) return get_le32(s->values_le + 4 * i);
    return s->values ? float_bits(s->values[i]) : 0x7FC00000u;
}

float tqb_sample_value(const tqb_samples_t *s, size_t i)
{
    return bits_float(tqb_sample_bits(s, i));
}

static int text_eq(tqb_text_t a, tqb_text_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static tqb_err_t parse_hello(const uint8_t *p, size_t len, const size_t *f, tqb_hello_t *h)
{
    tqb_cbor_reader_t r;
    uint8_t major, ai;
    uint64_t n, i, v;
    size_t pos, j;
    if (rd_text(p, len, f[0], TQB_MAX_TEXT, &h->fw) != 0) return TQB_ERR_BAD_MESSAGE;
    if (rd_text(p, len, f[1], TQB_MAX_NAME, &h->device) != 0 || !valid_name(h->device.ptr, h->device.len))
        return TQB_ERR_BAD_MESSAGE;
    /* channels: 1..32 maps, names unique (PROTOCOL §6, §10) */
    if (f[2] == ABSENT) return TQB_ERR_BAD_MESSAGE;
    r = reader_at(p, len, f[2]);
    if (tqb_cbor_head(&r, &major, &n, &ai) != 0 || major != 4 || n < 1 || n > TQB_MAX_CHANNELS)
        return TQB_ERR_BAD_MESSAGE;
    h->channels = NULL;
    h->channels_cbor = p + r.pos;
    h->n_channels = (size_t)n;
    pos = r.pos;
    for (i = 0; i < n; i++) {
        tqb_channel_view_t c, d;
        if (parse_channel(p, len, &pos, &c) != 0) return TQB_ERR_BAD_MESSAGE;
        h->channels_cbor_len = pos - (size_t)(h->channels_cbor - p);
        for (j = 0; j < (size_t)i; j++)
            if (tqb_hello_channel(h, j, &d) != 0 || text_eq(c.name, d.name)) return TQB_ERR_BAD_MESSAGE;
    }
    if (rd_num(p, len, f[3], &h->rate_hz) != 0 || !(h->rate_hz > 0 && h->rate_hz <= 1e6)) return TQB_ERR_BAD_MESSAGE;
    if (rd_uint(p, len, f[4], U32_MAX, &v) != 0 || v < 1) return TQB_ERR_BAD_MESSAGE;
    h->batch = (uint32_t)v;
    if (rd_uint(p, len, f[5], U32_MAX, &v) != 0 || v < 1) return TQB_ERR_BAD_MESSAGE;
    h->heartbeat_ms = (uint32_t)v;
    /* commands: entries that are not codes are ignored, a missing list is empty (as in TypeScript);
     * more than 16 codes break PROTOCOL §10. */
    h->n_commands = 0;
    if (f[6] != ABSENT) {
        r = reader_at(p, len, f[6]);
        if (tqb_cbor_head(&r, &major, &n, &ai) == 0 && major == 4) {
            for (i = 0; i < n; i++) {
                if (rd_uint(p, len, r.pos, 255, &v) == 0) {
                    if (h->n_commands >= TQB_MAX_COMMANDS) return TQB_ERR_BAD_MESSAGE;
                    h->commands[h->n_commands++] = (uint8_t)v;
                }
                if (tqb_cbor_skip(&r) != 0) return TQB_ERR_BAD_MESSAGE;
            }
        }
    }
    /* proto_min: absent keys take documented defaults (PROTOCOL §8); version 1 is the only one. */
    h->proto_min = rd_uint(p, len, f[7], 255, &v) == 0 ? (uint8_t)v : 1;
    return TQB_OK;
}

static tqb_err_t parse_samples(const uint8_t *p, size_t len, const size_t *f, tqb_samples_t *s)
{
    tqb_cbor_reader_t r;
    uint8_t major, ai;
    uint64_t v;
    if (rd_uint(p, len, f[0], TQB_MAX_CHANNELS, &v) != 0 || v < 1) return TQB_ERR_BAD_MESSAGE;
    s->channels = (uint8_t)v;
    if (rd_uint(p, len, f[1], U32_MAX, &v) != 0 || v < 1) return TQB_ERR_BAD_MESSAGE;
    s->period_us = (uint32_t)v;
    /* values: tag 85 around a byte string, float32 little-endian (PROTOCOL §5, RFC 8746) */
    if (f[2] == ABSENT) return TQB_ERR_BAD_MESSAGE;
    r = reader_at(p, len, f[2]);
    if (tqb_cbor_head(&r, &major, &v, &ai) != 0 || major != 6 || v != 85) return TQB_ERR_BAD_MESSAGE;
    if (tqb_cbor_head(&r, &major, &v, &ai) != 0 || major != 2 || v > r.len - r.pos || v % 4u != 0)
        return TQB_ERR_BAD_MESSAGE;
    s->values = NULL;
    s->values_le = p + r.pos;
    s->n_values = (size_t)(v / 4u);
    if (s->n_values % s->channels != 0) return TQB_ERR_BAD_MESSAGE;
    s->has_t0 = rd_uint(p, len, f[3], UINT_MAX_SAFE, &s->t0_us) == 0;
    return TQB_OK;
}

tqb_err_t tqb_parse_body(uint8_t type, const uint8_t *body, size_t len, tqb_message_t *m)
{
    size_t f[8], pos = 0;
    uint64_t a, b, c;
    memset(m, 0, sizeof *m);
    m->type = type;
    if (map_fields(body, len, &pos, f, 8) != 0) return TQB_ERR_BAD_BODY;
    switch (type) {
    case TQB_HELLO:
        return parse_hello(body, len, f, &m->u.hello);
    case TQB_SAMPLES:
        return parse_samples(body, len, f, &m->u.samples);
    case TQB_HEARTBEAT: {
        tqb_heartbeat_t *h = &m->u.heartbeat;
        if (rd_uint(body, len, f[0], UINT_MAX_SAFE, &h->uptime_ms) != 0) return TQB_ERR_BAD_MESSAGE;
        if (rd_uint(body, len, f[1], UINT_MAX_SAFE, &h->dropped) != 0) return TQB_ERR_BAD_MESSAGE;
        /* Optional keys: absent when missing or unusable. */
        h->has_battery = rd_uint(body, len, f[2], U32_MAX, &a) == 0;
        h->battery_mv = h->has_battery ? (uint32_t)a : 0;
        h->has_temperature = rd_num(body, len, f[3], &h->temperature_c) == 0;
        return TQB_OK;
    }
    case TQB_TIME_SYNC:
        if (rd_uint(body, len, f[0], U32_MAX, &a) != 0 || rd_uint(body, len, f[1], UINT_MAX_SAFE, &b) != 0)
            return TQB_ERR_BAD_MESSAGE;
        m->u.time_sync.nonce = (uint32_t)a;
        m->u.time_sync.host_ms = b;
        return TQB_OK;
    case TQB_TIME_SYNC_REPLY:
        if (rd_uint(body, len, f[0], U32_MAX, &a) != 0 || rd_uint(body, len, f[1], UINT_MAX_SAFE, &b) != 0 ||
            rd_uint(body, len, f[2], U32_MAX, &c) != 0)
            return TQB_ERR_BAD_MESSAGE;
        m->u.time_sync_reply.nonce = (uint32_t)a;
        m->u.time_sync_reply.host_ms = b;
        m->u.time_sync_reply.device_ms = (uint32_t)c;
        return TQB_OK;
    case TQB_COMMAND:
        if (rd_uint(body, len, f[0], U32_MAX, &a) != 0 || rd_uint(body, len, f[1], 255, &b) != 0)
            return TQB_ERR_BAD_MESSAGE;
        m->u.command.id = (uint32_t)a;
        m->u.command.code = (uint8_t)b;
        m->u.command.has_arg = rd_num(body, len, f[2], &m->u.command.arg) == 0;
        return TQB_OK;
    case TQB_ACK:
        if (rd_uint(body, len, f[0], U32_MAX, &a) != 0 || rd_uint(body, len, f[1], 255, &b) != 0)
            return TQB_ERR_BAD_MESSAGE;
        m->u.ack.id = (uint32_t)a;
        m->u.ack.status = (uint8_t)b;
        m->u.ack.has_detail = rd_text(body, len, f[2], TQB_MAX_TEXT, &m->u.ack.detail) == 0;
        return TQB_OK;
    case TQB_LOG:
        if (rd_uint(body, len, f[0], 255, &a) != 0 || rd_text(body, len, f[1], TQB_MAX_TEXT, &m->u.log.text) != 0)
            return TQB_ERR_BAD_MESSAGE;
        m->u.log.level = (uint8_t)a;
        return TQB_OK;
    case TQB_HELLO_REQUEST:
        /* No keys (PROTOCOL §6); any a newer host adds are ignored (§8). */
        return TQB_OK;
    default:
        /* PROTOCOL §8: a type this side does not know is ignored (and counted) by the caller. */
        return TQB_ERR_UNKNOWN_TYPE;
    }
}

static void w_textv(tqb_cbor_writer_t *w, tqb_text_t t)
{
    tqb_cbor_text(w, t.ptr ? t.ptr : "", t.ptr ? t.len : 0);
}

static void encode_body(tqb_cbor_writer_t *w, const tqb_message_t *m)
{
    size_t i;
    switch (m->type) {
    case TQB_HELLO: {
        const tqb_hello_t *h = &m->u.hello;
        /* Keys ascending, all eight always present (PROTOCOL §5, §6). */
        tqb_cbor_map(w, 8);
        tqb_cbor_uint(w, 0);
        w_textv(w, h->fw);
        tqb_cbor_uint(w, 1);
        w_textv(w, h->device);
        tqb_cbor_uint(w, 2);
        tqb_cbor_array(w, h->n_channels);
        for (i = 0; i < h->n_channels; i++) {
            tqb_channel_view_t c;
            if (tqb_hello_channel(h, i, &c) != 0) {
                w->overflow = 1; /* a channel that cannot be read cannot be sent either */
                return;
            }
            tqb_cbor_map(w, 4);
            tqb_cbor_uint(w, 0);
            w_textv(w, c.name);
            tqb_cbor_uint(w, 1);
            w_textv(w, c.unit);
            tqb_cbor_uint(w, 2);
            tqb_cbor_number(w, c.min);
            tqb_cbor_uint(w, 3);
            tqb_cbor_number(w, c.max);
        }
        tqb_cbor_uint(w, 3);
        tqb_cbor_number(w, h->rate_hz);
        tqb_cbor_uint(w, 4);
        tqb_cbor_uint(w, h->batch);
        tqb_cbor_uint(w, 5);
        tqb_cbor_uint(w, h->heartbeat_ms);
        tqb_cbor_uint(w, 6);
        tqb_cbor_array(w, h->n_commands);
        for (i = 0; i < h->n_commands && i < TQB_MAX_COMMANDS; i++) tqb_cbor_uint(w, h->commands[i]);
        tqb_cbor_uint(w, 7);
        tqb_cbor_uint(w, h->proto_min);
        break;
    }
    case TQB_SAMPLES: {
        const tqb_samples_t *s = &m->u.samples;
        tqb_cbor_map(w, s->has_t0 ? 4 : 3);
        tqb_cbor_uint(w, 0);
        tqb_cbor_uint(w, s->channels);
        tqb_cbor_uint(w, 1);
        tqb_cbor_uint(w, s->period_us);
        tqb_cbor_uint(w, 2);
        /* RFC 8746 tag 85: float32 little-endian typed array (PROTOCOL §5). */
        tqb_cbor_tag(w, 85);
        if (s->values_le) {
            tqb_cbor_bytes(w, s->values_le, 4 * s->n_values);
        } else {
            w_head(w, 2, 4 * (uint64_t)s->n_values);
            for (i = 0; i < s->n_values; i++) {
                uint8_t le[4];
                put_le32(le, float_bits(s->values[i]));
                w_raw(w, le, 4);
            }
        }
        if (s->has_t0) {
            tqb_cbor_uint(w, 3);
            tqb_cbor_uint(w, s->t0_us);
        }
        break;
    }
    case TQB_HEARTBEAT: {
        const tqb_heartbeat_t *h = &m->u.heartbeat;
        tqb_cbor_map(w, 2u + (h->has_battery ? 1u : 0u) + (h->has_temperature ? 1u : 0u));
        tqb_cbor_uint(w, 0);
        tqb_cbor_uint(w, h->uptime_ms);
        tqb_cbor_uint(w, 1);
        tqb_cbor_uint(w, h->dropped);
        if (h->has_battery) {
            tqb_cbor_uint(w, 2);
            tqb_cbor_uint(w, h->battery_mv);
        }
        if (h->has_temperature) {
            tqb_cbor_uint(w, 3);
            tqb_cbor_number(w, h->temperature_c);
        }
        break;
    }
    case TQB_TIME_SYNC:
        tqb_cbor_map(w, 2);
        tqb_cbor_uint(w, 0);
        tqb_cbor_uint(w, m->u.time_sync.nonce);
        tqb_cbor_uint(w, 1);
        /* host Unix ms needs 64 bits: an unsigned integer of the needed width (PROTOCOL §5) */
        tqb_cbor_uint(w, m->u.time_sync.host_ms);
        break;
    case TQB_TIME_SYNC_REPLY:
        tqb_cbor_map(w, 3);
        tqb_cbor_uint(w, 0);
        tqb_cbor_uint(w, m->u.time_sync_reply.nonce);
        tqb_cbor_uint(w, 1);
        tqb_cbor_uint(w, m->u.time_sync_reply.host_ms);
        tqb_cbor_uint(w, 2);
        tqb_cbor_uint(w, m->u.time_sync_reply.device_ms);
        break;
    case TQB_COMMAND:
        tqb_cbor_map(w, m->u.command.has_arg ? 3 : 2);
        tqb_cbor_uint(w, 0);
        tqb_cbor_uint(w, m->u.command.id);
        tqb_cbor_uint(w, 1);
        tqb_cbor_uint(w, m->u.command.code);
        if (m->u.command.has_arg) {
            tqb_cbor_uint(w, 2);
            tqb_cbor_number(w, m->u.command.arg);
        }
        break;
    case TQB_ACK:
        tqb_cbor_map(w, m->u.ack.has_detail ? 3 : 2);
        tqb_cbor_uint(w, 0);
        tqb_cbor_uint(w, m->u.ack.id);
        tqb_cbor_uint(w, 1);
        tqb_cbor_uint(w, m->u.ack.status);
        if (m->u.ack.has_detail) {
            tqb_cbor_uint(w, 2);
            w_textv(w, m->u.ack.detail);
        }
        break;
    case TQB_LOG:
        tqb_cbor_map(w, 2);
        tqb_cbor_uint(w, 0);
        tqb_cbor_uint(w, m->u.log.level);
        tqb_cbor_uint(w, 1);
        w_textv(w, m->u.log.text);
        break;
    case TQB_HELLO_REQUEST:
        tqb_cbor_map(w, 0); /* the empty map 0xA0 (PROTOCOL §6) */
        break;
    default:
        /* An unknown type has no known body: the empty map keeps the frame well-formed. */
        tqb_cbor_map(w, 0);
        break;
    }
}

size_t tqb_encode_body(const tqb_message_t *m, uint8_t *out, size_t cap)
{
    tqb_cbor_writer_t w;
    tqb_cbor_writer_init(&w, out, cap);
    encode_body(&w, m);
    return w.overflow ? 0 : w.len;
}

/* ================================================================ frames (PROTOCOL §2, §3) */

size_t tqb_tx_headroom(size_t cap)
{
    /* COBS output at input index i is at most 1 + i + i / 254: starting the decoded frame this far
     * in keeps the encoder's writes behind its reads. */
    return 1u + cap / 254u;
}

tqb_err_t tqb_encode_frame(const tqb_header_t *h, const tqb_message_t *m, uint8_t *out, size_t cap,
                           size_t *wire_len)
{
    size_t head = tqb_tx_headroom(cap), room, n, enc;
    tqb_cbor_writer_t w;
    uint8_t *raw;
    uint32_t crc;
    if (cap < head + TQB_MIN_FRAME + 1u) return TQB_ERR_NO_SPACE;
    room = cap - head - 1u; /* the decoded frame, leaving one byte for the delimiter */
    if (room > TQB_MAX_FRAME) room = TQB_MAX_FRAME;
    raw = out + head;
    /* The body first: it may move data that lies in `out` (buffered samples) towards the header. */
    tqb_cbor_writer_init(&w, raw + TQB_HEADER_LEN, room - TQB_HEADER_LEN - TQB_CRC_LEN);
    encode_body(&w, m);
    if (w.overflow) return room == TQB_MAX_FRAME ? TQB_ERR_OVERSIZE : TQB_ERR_NO_SPACE;
    raw[0] = h->version;
    raw[1] = h->incompat_flags;
    raw[2] = h->compat_flags;
    raw[3] = m->type;
    put_le16(raw + 4, h->seq);
    put_le32(raw + 6, h->time_ms);
    n = TQB_HEADER_LEN + w.len;
    crc = tqb_crc32c(raw, n);
    put_le32(raw + n, crc);
    n += TQB_CRC_LEN;
    enc = tqb_cobs_encode(raw, n, out, cap - 1u);
    if (enc == 0) return TQB_ERR_NO_SPACE;
    out[enc] = 0x00;
    *wire_len = enc + 1u;
    return TQB_OK;
}

/* Checks a piece without writing anything: COBS, length, CRC, version, flags, in the order of
 * PROTOCOL §3. The receiver can then try later offsets of a piece that fails (PROTOCOL §2) without
 * a second buffer, because it decodes in place only once these checks pass. */
typedef struct {
    size_t k, crc_end;
    uint32_t crc;
    uint8_t head[2], tail[4];
} scan_t;

static void scan_byte(scan_t *s, uint8_t b)
{
    if (s->k < 2) s->head[s->k] = b;
    if (s->k < s->crc_end)
        s->crc = crc_step(s->crc, b);
    else
        s->tail[s->k - s->crc_end] = b;
    s->k++;
}

static tqb_err_t check_piece(const uint8_t *piece, size_t len, size_t cap, size_t *n_out)
{
    long n = cobs_decoded_len(piece, len);
    scan_t s;
    size_t i = 0, j;
    if (n < 0) return TQB_ERR_BAD_COBS;
    if ((size_t)n < TQB_MIN_FRAME) return TQB_ERR_RUNT;
    if ((size_t)n > TQB_MAX_FRAME || (size_t)n > cap) return TQB_ERR_OVERSIZE;
    s.k = 0;
    s.crc_end = (size_t)n - TQB_CRC_LEN;
    s.crc = 0xFFFFFFFFu;
    while (i < len) {
        uint8_t code = piece[i++];
        for (j = 1; j < code; j++) scan_byte(&s, piece[i++]);
        if (code != 0xFFu && i < len) scan_byte(&s, 0);
    }
    if ((s.crc ^ 0xFFFFFFFFu) != get_le32(s.tail)) return TQB_ERR_BAD_CRC;
    if (s.head[0] != TQB_PROTOCOL_VERSION) return TQB_ERR_BAD_VERSION;
    /* Version 1 implements no incompatible feature: any bit is unknown (PROTOCOL §8). */
    if (s.head[1] != 0) return TQB_ERR_UNKNOWN_FLAGS;
    *n_out = (size_t)n;
    return TQB_OK;
}

/* PROTOCOL §3: exactly one well-formed CBOR map, ending right before the CRC. */
static int body_ok(const uint8_t *body, size_t len)
{
    tqb_cbor_reader_t r = reader_at(body, len, 0);
    if (len == 0 || (body[0] >> 5) != 5) return 0;
    return cbor_skip(&r, 1) == 0 && r.pos == len;
}

tqb_err_t tqb_decode_frame(const uint8_t *piece, size_t len, uint8_t *work, size_t cap, tqb_frame_t *out)
{
    size_t n = 0, m = 0;
    tqb_err_t e;
    memset(out, 0, sizeof *out);
    e = check_piece(piece, len, cap, &n);
    if (e != TQB_OK) return e;
    if (tqb_cobs_decode(piece, len, work, cap, &m) != TQB_OK || m != n) return TQB_ERR_BAD_COBS;
    out->body = work + TQB_HEADER_LEN;
    out->body_len = n - TQB_HEADER_LEN - TQB_CRC_LEN;
    if (!body_ok(out->body, out->body_len)) return TQB_ERR_BAD_BODY;
    out->hdr.version = work[0];
    out->hdr.incompat_flags = work[1];
    out->hdr.compat_flags = work[2];
    out->hdr.seq = get_le16(work + 4);
    out->hdr.time_ms = get_le32(work + 6);
    return tqb_parse_body(work[3], out->body, out->body_len, &out->msg);
}

/* ================================================================ stream receiver (PROTOCOL §2) */

void tqb_rx_init(tqb_rx_t *rx, uint8_t *buf, size_t len)
{
    memset(rx, 0, sizeof *rx);
    rx->buf = buf;
    rx->cap = len < TQB_MAX_ENCODED ? len : TQB_MAX_ENCODED;
    rx->expected_seq = -1;
}

void tqb_rx_reset_seq(tqb_rx_t *rx)
{
    rx->expected_seq = -1;
}

static void count_error(tqb_rx_stats_t *s, tqb_err_t e)
{
    switch (e) {
    case TQB_ERR_BAD_COBS: s->bad_cobs++; break;
    case TQB_ERR_RUNT: s->runt++; break;
    case TQB_ERR_OVERSIZE: s->oversize++; break;
    case TQB_ERR_BAD_CRC: s->bad_crc++; break;
    case TQB_ERR_BAD_VERSION: s->bad_version++; break;
    case TQB_ERR_UNKNOWN_FLAGS: s->unknown_flags++; break;
    case TQB_ERR_BAD_BODY: s->bad_body++; break;
    case TQB_ERR_UNKNOWN_TYPE: s->unknown_type++; break;
    case TQB_ERR_BAD_MESSAGE: s->bad_message++; break;
    default: break;
    }
}

/* Reverses b[lo, hi). */
static void reverse(uint8_t *b, size_t lo, size_t hi)
{
    while (lo + 1 < hi) {
        uint8_t t = b[lo];
        b[lo++] = b[--hi];
        b[hi] = t;
    }
}

/* A frame that passed PROTOCOL §3: count it and track sequence numbers (PROTOCOL §7). */
static void accept(tqb_rx_t *rx, tqb_err_t msg_err, tqb_rx_event_t *ev)
{
    tqb_rx_stats_t *s = &rx->stats;
    uint16_t seq = ev->frame.hdr.seq;
    s->frames++;
    if (msg_err != TQB_OK) count_error(s, msg_err);
    if (rx->expected_seq >= 0 && seq != (uint16_t)rx->expected_seq) {
        uint16_t gap = (uint16_t)(seq - (uint16_t)rx->expected_seq);
        /* Below half the sequence space it is frames lost; beyond, the sender restarted. */
        if (gap < 0x8000u)
            s->seq_gaps += gap;
        else
            s->seq_resets++;
    }
    rx->expected_seq = (int32_t)(uint16_t)(seq + 1u);
    ev->got_frame = 1;
    ev->msg_err = msg_err;
}

static int frame_valid(tqb_err_t e)
{
    return e == TQB_OK || e == TQB_ERR_UNKNOWN_TYPE || e == TQB_ERR_BAD_MESSAGE;
}

/* A delimiter arrived: judge the piece held. Returns 1 when `ev` has something to report. */
static int end_piece(tqb_rx_t *rx, tqb_rx_event_t *ev)
{
    size_t n = rx->len, s;
    int overflowed = rx->overflowed;
    tqb_err_t first;
    rx->len = 0;
    rx->overflowed = 0;
    if (n == 0) {
        /* PROTOCOL §2: an empty piece is ignored (a sender's lone 0x00 ends whatever we held). */
        rx->stats.discarded_bytes++;
        return 0;
    }
    if (rx->start != 0) {
        /* The ring kept the newest bytes: rotate them into order (three reversals, no copy). */
        reverse(rx->buf, 0, rx->start);
        reverse(rx->buf, rx->start, n);
        reverse(rx->buf, 0, n);
        rx->start = 0;
    }
    first = tqb_decode_frame(rx->buf, n, rx->buf, rx->cap, &ev->frame);
    if (frame_valid(first)) {
        accept(rx, first, ev);
        return 1;
    }
    /* Resynchronisation (PROTOCOL §2): a frame whose delimiter was lost arrives glued behind other
     * bytes, so look for a valid frame starting later in the piece. Only bad_body can leave the
     * piece decoded in place (its CRC matched: it is a whole frame, not garbage before one). A
     * frame this receiver accepts starts with version 1 and incompat_flags 0, which COBS writes as
     * 02 01: only such offsets are worth decoding. */
    if (first != TQB_ERR_BAD_BODY) {
        for (s = 1; s + TQB_MIN_FRAME <= n; s++) {
            tqb_err_t e;
            if (rx->buf[s] != 0x02 || rx->buf[s + 1] != TQB_PROTOCOL_VERSION) continue;
            e = tqb_decode_frame(rx->buf + s, n - s, rx->buf, rx->cap, &ev->frame);
            if (frame_valid(e)) {
                rx->stats.resyncs++;
                rx->stats.discarded_bytes += (uint32_t)s;
                ev->discard_err = overflowed ? TQB_ERR_OVERSIZE : first;
                ev->discarded = s;
                accept(rx, e, ev);
                return 1;
            }
            if (e == TQB_ERR_BAD_BODY) break;
        }
    }
    memset(&ev->frame, 0, sizeof ev->frame);
    /* An overflowed piece was counted as oversize when it overflowed: one count per piece. */
    if (!overflowed) count_error(&rx->stats, first);
    rx->stats.discarded_bytes += (uint32_t)(n + 1);
    ev->discard_err = overflowed ? TQB_ERR_OVERSIZE : first;
    ev->discarded = n + 1;
    return 1;
}

size_t tqb_rx_feed(tqb_rx_t *rx, const uint8_t *data, size_t len, tqb_rx_event_t *ev)
{
    size_t i;
    memset(ev, 0, sizeof *ev);
    for (i = 0; i < len; i++) {
        uint8_t b = data[i];
        if (b == 0) {
            if (end_piece(rx, ev)) return i + 1;
            continue;
        }
        if (rx->cap == 0) continue;
        if (rx->len < rx->cap) {
            rx->buf[rx->len++] = b;
            continue;
        }
        /* Longer than any frame: keep only the newest bytes, which may still end one (PROTOCOL §2).
         * The buffer becomes a ring until the delimiter. */
        if (!rx->overflowed) {
            rx->overflowed = 1;
            rx->stats.oversize++;
        }
        rx->buf[rx->start] = b;
        rx->start = (rx->start + 1u) % rx->cap;
        rx->stats.discarded_bytes++;
    }
    return len;
}

/* ================================================================ device API */

/* Decoded bytes of the largest fixed-size frame a device sends: HEARTBEAT with every key at its
 * widest (map 1 + 1+9 + 1+9 + 1+5 + 1+5, header 10, CRC 4). */
#define HEARTBEAT_MAX 47u
/* ACK and LOG around their text, at their widest (id 2^32-1, a 2-byte text head): ACK is map 1 +
 * 1+5 + 1+2 + 1+2, LOG map 1 + 1+2 + 1+2, plus header and CRC. Texts are cut to the room left. */
#define ACK_FIXED 27u
#define LOG_FIXED 22u

static void config_hello(const tqb_config_t *cfg, tqb_message_t *m)
{
    tqb_hello_t *h = &m->u.hello;
    size_t i;
    memset(m, 0, sizeof *m);
    m->type = TQB_HELLO;
    h->fw = tqb_text(cfg->fw);
    h->device = tqb_text(cfg->device_id);
    h->n_channels = cfg->n_channels;
    h->channels = cfg->channels;
    h->rate_hz = cfg->rate_hz;
    h->batch = cfg->batch;
    h->heartbeat_ms = cfg->heartbeat_ms;
    h->n_commands = cfg->n_commands;
    for (i = 0; i < cfg->n_commands && i < TQB_MAX_COMMANDS; i++) h->commands[i] = cfg->commands[i];
    h->proto_min = TQB_PROTOCOL_VERSION;
}

static int config_ok(const tqb_config_t *cfg)
{
    size_t i, j;
    if (!cfg || !cfg->fw || strlen(cfg->fw) > TQB_MAX_TEXT) return 0;
    if (!cfg->device_id || !valid_name(cfg->device_id, strlen(cfg->device_id))) return 0;
    if (!cfg->channels || cfg->n_channels < 1 || cfg->n_channels > TQB_MAX_CHANNELS) return 0;
    for (i = 0; i < cfg->n_channels; i++) {
        const tqb_channel_t *c = &cfg->channels[i];
        if (!c->name || !valid_name(c->name, strlen(c->name))) return 0;
        if (c->unit && strlen(c->unit) > TQB_MAX_NAME) return 0;
        if (!is_finite(c->min) || !is_finite(c->max) || !(c->min < c->max)) return 0;
        for (j = 0; j < i; j++)
            if (strcmp(cfg->channels[j].name, c->name) == 0) return 0;
    }
    if (!(cfg->rate_hz > 0 && cfg->rate_hz <= 1e6) || cfg->batch < 1 || cfg->heartbeat_ms < 1) return 0;
    if (cfg->n_commands > TQB_MAX_COMMANDS || (cfg->n_commands && !cfg->commands)) return 0;
    return 1;
}

/* Decoded bytes of a SAMPLES frame with `values` floats, at the widest period_us. */
static size_t samples_raw_len(uint8_t channels, size_t values)
{
    tqb_message_t m;
    tqb_cbor_writer_t w;
    memset(&m, 0, sizeof m);
    m.type = TQB_SAMPLES;
    m.u.samples.channels = channels;
    m.u.samples.period_us = 0xFFFFFFFFu;
    m.u.samples.n_values = values;
    m.u.samples.values_le = (const uint8_t *)""; /* measured only, never read */
    tqb_cbor_writer_init(&w, NULL, 0);
    encode_body(&w, &m);
    return TQB_HEADER_LEN + w.len + TQB_CRC_LEN;
}

static size_t hello_raw_len(const tqb_config_t *cfg)
{
    tqb_message_t m;
    tqb_cbor_writer_t w;
    config_hello(cfg, &m);
    /* The widest rate_hz (a float32, 5 bytes): tqb_set_rate() may change it later. */
    m.u.hello.rate_hz = 0.5;
    tqb_cbor_writer_init(&w, NULL, 0);
    encode_body(&w, &m);
    return TQB_HEADER_LEN + w.len + TQB_CRC_LEN;
}

static size_t store_bytes(const tqb_config_t *cfg)
{
    return (size_t)cfg->batch * cfg->n_channels * 4u;
}

size_t tqb_tx_needed(const tqb_config_t *cfg)
{
    size_t other, samples, store, len;
    if (!config_ok(cfg)) return 0;
    other = hello_raw_len(cfg);
    if (other < HEARTBEAT_MAX) other = HEARTBEAT_MAX;
    store = store_bytes(cfg);
    samples = samples_raw_len(cfg->n_channels, (size_t)cfg->batch * cfg->n_channels);
    if (other > TQB_MAX_FRAME || samples > TQB_MAX_FRAME) return 0;
    /* Samples wait at the end of the buffer (`store` bytes, already in wire form); other frames are
     * built in front of them, and a SAMPLES frame over them (see tqb_encode_frame). */
    for (len = store + other + 2;; len++) {
        size_t head = tqb_tx_headroom(len);
        if (len - store >= tqb_tx_headroom(len - store) + other + 1 && len >= head + samples + 1) return len;
    }
}

static void note_time(tqb_t *t, uint32_t now_ms)
{
    /* 64-bit uptime from a 32-bit clock that wraps every 49.7 days (PROTOCOL §3). */
    if (now_ms < t->last_now_ms && t->last_now_ms - now_ms > 0x80000000u) t->uptime_wraps++;
    if ((uint32_t)(now_ms - t->last_now_ms) < 0x80000000u) t->last_now_ms = now_ms;
}

/* Encodes and writes one frame with the next seq (PROTOCOL §7: +1 per frame sent, whatever its
 * type, also when the write fails — the host then sees the gap). */
static tqb_err_t send_msg(tqb_t *t, const tqb_message_t *m, uint32_t time_ms, size_t cap, uint32_t now_ms)
{
    tqb_header_t h;
    size_t wire = 0;
    tqb_err_t e;
    h.version = TQB_PROTOCOL_VERSION;
    h.incompat_flags = 0;
    h.compat_flags = 0;
    h.seq = t->seq;
    h.time_ms = time_ms;
    e = tqb_encode_frame(&h, m, t->tx, cap, &wire);
    if (e != TQB_OK) return e;
    t->seq = (uint16_t)(t->seq + 1u);
    t->last_tx_ms = now_ms;
    if (t->write(t->user, t->tx, wire) != 0) {
        t->stats.write_errors++;
        return TQB_ERR_WRITE;
    }
    t->stats.frames_sent++;
    return TQB_OK;
}

tqb_err_t tqb_send(tqb_t *t, const tqb_message_t *m, uint32_t now_ms)
{
    note_time(t, now_ms);
    return send_msg(t, m, now_ms, t->store_off, now_ms);
}

static tqb_err_t send_hello(tqb_t *t, uint32_t now_ms)
{
    tqb_message_t m;
    config_hello(&t->cfg, &m);
    t->last_hello_ms = now_ms;
    return send_msg(t, &m, now_ms, t->store_off, now_ms);
}

static tqb_err_t start_session(tqb_t *t, uint32_t now_ms)
{
    static const uint8_t zero = 0x00;
    tqb_err_t e;
    t->seq = 0;
    t->n_buffered = 0;
    t->last_now_ms = now_ms;
    t->uptime_wraps = 0;
    t->last_tx_ms = now_ms;
    t->q_head = t->q_len = 0;
    tqb_rx_init(&t->rx, t->rx.buf, t->rx.cap);
    /* PROTOCOL §2: a lone 0x00 after boot ends whatever the host's receiver was holding. */
    e = t->write(t->user, &zero, 1) == 0 ? TQB_OK : TQB_ERR_WRITE;
    if (e != TQB_OK) t->stats.write_errors++;
    /* PROTOCOL §6: HELLO after boot. */
    if (send_hello(t, now_ms) != TQB_OK) e = TQB_ERR_WRITE;
    return e;
}

tqb_err_t tqb_begin(tqb_t *t, const tqb_config_t *cfg, uint8_t *txbuf, size_t txlen, uint8_t *rxbuf,
                    size_t rxlen, tqb_write_fn write, void *user, uint32_t now_ms)
{
    size_t need = tqb_tx_needed(cfg);
    memset(t, 0, sizeof *t);
    if (need == 0 || !txbuf || txlen < need || !rxbuf || rxlen < TQB_MIN_FRAME + 2u || !write) return TQB_ERR_ARG;
    t->cfg = *cfg;
    t->write = write;
    t->user = user;
    t->tx = txbuf;
    t->txlen = txlen;
    t->store_off = txlen - store_bytes(cfg);
    t->period_us = (uint32_t)(1e6 / cfg->rate_hz + 0.5);
    if (t->period_us < 1) t->period_us = 1;
    t->rx.buf = rxbuf;
    t->rx.cap = rxlen;
    return start_session(t, now_ms);
}

tqb_err_t tqb_restart(tqb_t *t, uint32_t now_ms)
{
    size_t i;
    /* Commands given to the application but never answered are forgotten with the queue; answered
     * ones are remembered so that a retry is re-ACKed, not executed again (PROTOCOL §6). */
    for (i = 0; i < TQB_CMD_MEMORY; i++)
        if (t->memo[i].state == 1) t->memo[i].state = 0;
    t->dropped = 0;
    return start_session(t, now_ms);
}

tqb_err_t tqb_flush(tqb_t *t, uint32_t now_ms)
{
    tqb_message_t m;
    tqb_err_t e;
    uint16_t n = t->n_buffered;
    note_time(t, now_ms);
    if (n == 0) return TQB_OK;
    memset(&m, 0, sizeof m);
    m.type = TQB_SAMPLES;
    m.u.samples.channels = t->cfg.n_channels;
    m.u.samples.period_us = t->period_us;
    m.u.samples.n_values = (size_t)n * t->cfg.n_channels;
    m.u.samples.values_le = t->tx + t->store_off;
    t->n_buffered = 0;
    /* Without t0_us the first sample was taken at the header's time_ms (PROTOCOL §6). */
    e = send_msg(t, &m, t->first_sample_ms, t->txlen, now_ms);
    if (e != TQB_OK) t->dropped += n; /* HEARTBEAT key 1: samples the device could not send */
    return e;
}

tqb_err_t tqb_add_sample(tqb_t *t, const float *values, uint32_t now_ms)
{
    uint8_t *p;
    size_t c;
    note_time(t, now_ms);
    if (t->n_buffered >= t->cfg.batch) {
        t->dropped++;
        return TQB_ERR_NO_SPACE;
    }
    if (t->n_buffered == 0) t->first_sample_ms = now_ms;
    p = t->tx + t->store_off + (size_t)t->n_buffered * t->cfg.n_channels * 4u;
    /* Stored already as the wire form: float32 little-endian (PROTOCOL §5, tag 85). */
    for (c = 0; c < t->cfg.n_channels; c++) put_le32(p + 4 * c, float_bits(values[c]));
    t->n_buffered++;
    if (t->n_buffered >= t->cfg.batch) return tqb_flush(t, now_ms);
    return TQB_OK;
}

tqb_err_t tqb_poll(tqb_t *t, uint32_t now_ms)
{
    tqb_err_t e = TQB_OK;
    note_time(t, now_ms);
    /* PROTOCOL §6: HELLO at least every 10 s, so a host that starts later learns the layout. */
    if ((uint32_t)(now_ms - t->last_hello_ms) >= TQB_HELLO_PERIOD_MS) e = send_hello(t, now_ms);
    /* PROTOCOL §9: a frame at least every heartbeat_ms; HEARTBEAT when there was nothing else. */
    if ((uint32_t)(now_ms - t->last_tx_ms) >= t->cfg.heartbeat_ms) {
        tqb_message_t m;
        tqb_heartbeat_t *h = &m.u.heartbeat;
        tqb_err_t e2;
        memset(&m, 0, sizeof m);
        m.type = TQB_HEARTBEAT;
        h->uptime_ms = ((uint64_t)t->uptime_wraps << 32) | t->last_now_ms;
        h->dropped = t->dropped;
        h->has_battery = t->has_battery;
        h->battery_mv = t->battery_mv;
        h->has_temperature = t->has_temperature;
        h->temperature_c = t->temperature_c;
        e2 = send_msg(t, &m, now_ms, t->store_off, now_ms);
        if (e == TQB_OK) e = e2;
    }
    return e;
}

void tqb_set_battery_mv(tqb_t *t, uint32_t mv)
{
    t->has_battery = 1;
    t->battery_mv = mv;
}

void tqb_set_temperature(tqb_t *t, double celsius)
{
    t->has_temperature = 1;
    t->temperature_c = celsius;
}

tqb_err_t tqb_set_rate(tqb_t *t, double rate_hz, uint32_t now_ms)
{
    tqb_err_t e;
    uint32_t period;
    if (!(rate_hz > 0 && rate_hz <= 1e6)) return TQB_ERR_ARG;
    period = (uint32_t)(1e6 / rate_hz + 0.5);
    /* Samples taken at the old rate go out with the old period_us. */
    e = tqb_flush(t, now_ms);
    t->cfg.rate_hz = rate_hz;
    t->period_us = period < 1 ? 1 : period;
    /* HELLO carries rate_hz: the host learns the new nominal rate at once (PROTOCOL §6). */
    if (send_hello(t, now_ms) != TQB_OK) e = TQB_ERR_WRITE;
    return e;
}

/* Text bytes that fit in a frame with `fixed` other bytes, built in front of the sample store. */
static size_t text_room(const tqb_t *t, size_t fixed)
{
    size_t raw = t->store_off - tqb_tx_headroom(t->store_off) - 1u;
    if (raw > TQB_MAX_FRAME) raw = TQB_MAX_FRAME;
    if (raw <= fixed) return 0;
    return raw - fixed < TQB_MAX_TEXT ? raw - fixed : TQB_MAX_TEXT;
}

/* Cuts a text to `max` bytes without splitting a UTF-8 sequence. */
static tqb_text_t clip_text(const char *s, size_t max)
{
    tqb_text_t t = tqb_text(s);
    if (t.len > max) {
        t.len = max;
        while (t.len > 0 && ((uint8_t)t.ptr[t.len] & 0xC0u) == 0x80u) t.len--;
    }
    return t;
}

static tqb_cmd_memo_t *memo_find(tqb_t *t, uint32_t id)
{
    size_t i;
    for (i = 0; i < TQB_CMD_MEMORY; i++)
        if (t->memo[i].state != 0 && t->memo[i].id == id) return &t->memo[i];
    return NULL;
}

static tqb_cmd_memo_t *memo_add(tqb_t *t, uint32_t id)
{
    /* The last TQB_CMD_MEMORY commands: the oldest entry makes room (PROTOCOL §6). */
    tqb_cmd_memo_t *m = &t->memo[t->memo_next];
    t->memo_next = (uint8_t)((t->memo_next + 1u) % TQB_CMD_MEMORY);
    m->id = id;
    m->state = 1;
    m->status = 0;
    return m;
}

static tqb_err_t send_ack(tqb_t *t, uint32_t id, uint8_t status, const char *detail, uint32_t now_ms)
{
    tqb_message_t m;
    memset(&m, 0, sizeof m);
    m.type = TQB_ACK;
    m.u.ack.id = id;
    m.u.ack.status = status;
    if (detail) {
        m.u.ack.detail = clip_text(detail, text_room(t, ACK_FIXED));
        m.u.ack.has_detail = m.u.ack.detail.len > 0 || detail[0] == '\0';
    }
    return send_msg(t, &m, now_ms, t->store_off, now_ms);
}

static void on_command(tqb_t *t, const tqb_command_t *c, uint32_t now_ms)
{
    tqb_cmd_memo_t *memo = memo_find(t, c->id);
    size_t i;
    int supported = 0;
    if (memo) {
        /* A retry (PROTOCOL §6): the same ACK again, never a second execution. While the
         * application still holds the command, its own ACK will answer the retry. */
        t->stats.repeats++;
        if (memo->state == 2) {
            send_ack(t, c->id, memo->status, NULL, now_ms);
            if (t->cfg.on_auto_ack) t->cfg.on_auto_ack(t->user, c, memo->status, 1);
        }
        return;
    }
    for (i = 0; i < t->cfg.n_commands; i++)
        if (t->cfg.commands[i] == c->code) supported = 1;
    if (!supported) {
        /* PROTOCOL §8: a code this firmware does not implement is answered with status 1. */
        memo = memo_add(t, c->id);
        memo->state = 2;
        memo->status = TQB_ACK_UNSUPPORTED;
        t->stats.unsupported++;
        send_ack(t, c->id, TQB_ACK_UNSUPPORTED, NULL, now_ms);
        if (t->cfg.on_auto_ack) t->cfg.on_auto_ack(t->user, c, TQB_ACK_UNSUPPORTED, 0);
        return;
    }
    /* Queue full: not remembered either, so the host's retry is taken once there is room. */
    if (t->q_len >= TQB_CMD_QUEUE) return;
    memo_add(t, c->id);
    t->queue[(t->q_head + t->q_len) % TQB_CMD_QUEUE] = *c;
    t->q_len++;
    t->stats.commands++;
}

void tqb_rx_bytes(tqb_t *t, const uint8_t *data, size_t len, uint32_t now_ms)
{
    note_time(t, now_ms);
    while (len > 0) {
        tqb_rx_event_t ev;
        size_t used = tqb_rx_feed(&t->rx, data, len, &ev);
        data += used;
        len -= used;
        if (!ev.got_frame || ev.msg_err != TQB_OK) continue;
        if (ev.frame.msg.type == TQB_COMMAND) {
            on_command(t, &ev.frame.msg.u.command, now_ms);
        } else if (ev.frame.msg.type == TQB_TIME_SYNC) {
            /* PROTOCOL §6/§7: nonce and host_ms as received, device_ms = our time on arrival. */
            tqb_message_t m;
            memset(&m, 0, sizeof m);
            m.type = TQB_TIME_SYNC_REPLY;
            m.u.time_sync_reply.nonce = ev.frame.msg.u.time_sync.nonce;
            m.u.time_sync_reply.host_ms = ev.frame.msg.u.time_sync.host_ms;
            m.u.time_sync_reply.device_ms = now_ms;
            t->stats.time_syncs++;
            send_msg(t, &m, now_ms, t->store_off, now_ms);
        } else if (ev.frame.msg.type == TQB_HELLO_REQUEST) {
            /* PROTOCOL §6: the host (re)opened the port or lacks our layout: HELLO at once. */
            send_hello(t, now_ms);
        }
        /* Other types are device-to-host, or unknown: ignored (PROTOCOL §8). */
    }
}

int tqb_poll_command(tqb_t *t, tqb_command_t *out)
{
    if (t->q_len == 0) return 0;
    *out = t->queue[t->q_head];
    t->q_head = (uint8_t)((t->q_head + 1u) % TQB_CMD_QUEUE);
    t->q_len--;
    return 1;
}

tqb_err_t tqb_ack(tqb_t *t, uint32_t id, uint8_t status, const char *detail, uint32_t now_ms)
{
    tqb_cmd_memo_t *memo = memo_find(t, id);
    note_time(t, now_ms);
    if (memo) {
        memo->state = 2;
        memo->status = status;
    }
    return send_ack(t, id, status, detail, now_ms);
}

tqb_err_t tqb_log(tqb_t *t, uint8_t level, const char *text, uint32_t now_ms)
{
    tqb_message_t m;
    note_time(t, now_ms);
    memset(&m, 0, sizeof m);
    m.type = TQB_LOG;
    m.u.log.level = level;
    m.u.log.text = clip_text(text, text_room(t, LOG_FIXED));
    return send_msg(t, &m, now_ms, t->store_off, now_ms);
}
