/*
 * tinyqa_bridge — portable C99 reference implementation of the tinyqa serial protocol, version 1
 * (firmware-bridge/PROTOCOL.md). Sections are cited as PROTOCOL §n.
 *
 * Three layers, each usable alone:
 *   1. codec:    CRC-32C, COBS, a minimal CBOR writer/reader, frame encode/decode of all 9 messages;
 *   2. receiver: tqb_rx_t, a byte-stream decoder with the resynchronisation rule of PROTOCOL §2;
 *   3. device:   tqb_t, what a firmware author calls (tqb_begin, tqb_add_sample, tqb_poll, ...).
 *
 * No heap, no stdio: every buffer is the caller's. Only <stdint.h>, <stddef.h> and <string.h>.
 * Not reentrant per object; separate objects are independent.
 */
#ifndef TINYQA_BRIDGE_H
#define TINYQA_BRIDGE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- constants (PROTOCOL §2, §3, §10) */

#define TQB_PROTOCOL_VERSION 1u
#define TQB_HEADER_LEN 10u
#define TQB_CRC_LEN 4u
/* Header + the one-byte empty map 0xA0 + CRC: the shortest valid frame (PROTOCOL §3). */
#define TQB_MIN_FRAME 15u
#define TQB_MAX_FRAME 2048u
/* Largest COBS encoding of n bytes, without the delimiter: one code byte per started run of 254,
 * plus the final code that Cheshire & Baker's StuffData writes after a full last run (PROTOCOL §2). */
#define TQB_COBS_MAX(n) ((n) + (n) / 254u + 1u)
/* 2057: the longest piece between delimiters that can still be a frame. */
#define TQB_MAX_ENCODED TQB_COBS_MAX(TQB_MAX_FRAME)
/* A tqb_rx_t buffer of this size receives every frame the protocol allows. */
#define TQB_RX_BUF_MAX TQB_MAX_ENCODED
/* A buffer for tqb_encode_frame() that fits any frame: encoded frame, its delimiter, and the head
 * room the in-place encoding needs (see tqb_encode_frame). */
#define TQB_TX_BUF_MAX (TQB_MAX_ENCODED + 1u)

#define TQB_MAX_CHANNELS 32u
#define TQB_MAX_TEXT 200u
#define TQB_MAX_NAME 64u
#define TQB_MAX_COMMANDS 16u
/* PROTOCOL §6: the device remembers the ids of its last 4 commands. */
#define TQB_CMD_MEMORY 4u
/* Commands received but not yet taken with tqb_poll_command(). */
#define TQB_CMD_QUEUE 4u
/* PROTOCOL §6: HELLO again at least every 10 s. */
#define TQB_HELLO_PERIOD_MS 10000u

/* Message types (PROTOCOL §6). */
enum {
    TQB_HELLO = 0x01,
    TQB_SAMPLES = 0x02,
    TQB_HEARTBEAT = 0x03,
    TQB_TIME_SYNC = 0x04,
    TQB_TIME_SYNC_REPLY = 0x05,
    TQB_HELLO_REQUEST = 0x07,
    TQB_COMMAND = 0x10,
    TQB_ACK = 0x11,
    TQB_LOG = 0x20
};

/* Command codes and ACK statuses (PROTOCOL §6). */
enum { TQB_CMD_SET_RATE = 1, TQB_CMD_RECALIBRATE = 2, TQB_CMD_SWITCH_TO_BACKUP = 3, TQB_CMD_REBOOT = 4 };
enum { TQB_ACK_DONE = 0, TQB_ACK_UNSUPPORTED = 1, TQB_ACK_BAD_ARGUMENT = 2, TQB_ACK_FAILED = 3 };
enum { TQB_LOG_ERROR = 0, TQB_LOG_WARNING = 1, TQB_LOG_INFO = 2, TQB_LOG_DEBUG = 3 };

/* Errors. The frame-level ones are named like the receiver counters of PROTOCOL §2/§3
 * (tqb_err_name() gives the counter name). */
typedef enum {
    TQB_OK = 0,
    TQB_ERR_BAD_COBS,      /* a COBS code byte points past the end of the piece */
    TQB_ERR_RUNT,          /* decoded frame shorter than TQB_MIN_FRAME */
    TQB_ERR_OVERSIZE,      /* longer than TQB_MAX_FRAME decoded, or than the buffer holding it */
    TQB_ERR_BAD_CRC,
    TQB_ERR_BAD_VERSION,
    TQB_ERR_UNKNOWN_FLAGS,
    TQB_ERR_BAD_BODY,      /* body is not exactly one well-formed CBOR map */
    TQB_ERR_UNKNOWN_TYPE,  /* valid frame of a type this side does not know (PROTOCOL §8) */
    TQB_ERR_BAD_MESSAGE,   /* valid frame whose map lacks what its type requires (PROTOCOL §6) */
    TQB_ERR_NO_SPACE,      /* output buffer too small */
    TQB_ERR_ARG,           /* invalid argument or configuration */
    TQB_ERR_WRITE,         /* the write callback failed */
    TQB_ERR_COUNT
} tqb_err_t;

const char *tqb_err_name(tqb_err_t e);

/* ---------------------------------------------------------------- CRC-32C and COBS (PROTOCOL §4, §2) */

uint32_t tqb_crc32c(const uint8_t *data, size_t len);
/* Continue a CRC: start with crc = 0, feed pieces, the result equals tqb_crc32c of the whole. */
uint32_t tqb_crc32c_update(uint32_t crc, const uint8_t *data, size_t len);

/* Encodes src[0..len) into dst (no delimiter). Returns the encoded length, or 0 when it would not
 * fit in cap (an encoding is never empty). dst may overlap src when dst + 1 + len / 254 <= src
 * (the output never overtakes the input): that is how frames are built without a second buffer. */
size_t tqb_cobs_encode(const uint8_t *src, size_t len, uint8_t *dst, size_t cap);
/* Decodes one piece (no delimiter). Returns TQB_OK and *out_len, TQB_ERR_BAD_COBS (a zero byte, a
 * code past the end) or TQB_ERR_NO_SPACE. dst may equal src (in-place decoding is safe). */
tqb_err_t tqb_cobs_decode(const uint8_t *src, size_t len, uint8_t *dst, size_t cap, size_t *out_len);

/* ---------------------------------------------------------------- CBOR subset (PROTOCOL §5) */

typedef struct {
    uint8_t *buf;
    size_t cap;
    size_t len;
    uint8_t overflow; /* set once anything did not fit; later writes are dropped */
} tqb_cbor_writer_t;

void tqb_cbor_writer_init(tqb_cbor_writer_t *w, uint8_t *buf, size_t cap);
void tqb_cbor_uint(tqb_cbor_writer_t *w, uint64_t v);
/* -1 - n: writes the negative integer whose CBOR argument is n (major type 1). */
void tqb_cbor_nint(tqb_cbor_writer_t *w, uint64_t n);
/* PROTOCOL §5: integral |v| < 2^32 as an integer, anything else as float32 (0xFA, big-endian). */
void tqb_cbor_number(tqb_cbor_writer_t *w, double v);
void tqb_cbor_float32(tqb_cbor_writer_t *w, float v);
void tqb_cbor_text(tqb_cbor_writer_t *w, const char *s, size_t len);
void tqb_cbor_bytes(tqb_cbor_writer_t *w, const uint8_t *b, size_t len); /* b may overlap buf */
void tqb_cbor_array(tqb_cbor_writer_t *w, size_t n);
void tqb_cbor_map(tqb_cbor_writer_t *w, size_t n);
void tqb_cbor_tag(tqb_cbor_writer_t *w, uint64_t tag);

typedef struct {
    const uint8_t *p;
    size_t len;
    size_t pos;
} tqb_cbor_reader_t;

/* One head: major type 0..7, its argument (length, value, or for major 7 the raw float bits /
 * simple value) and the additional-information bits. Indefinite lengths (ai 31) and reserved ai
 * (28..30) are errors. Returns 0, or -1 without moving on error. */
int tqb_cbor_head(tqb_cbor_reader_t *r, uint8_t *major, uint64_t *arg, uint8_t *ai);
/* Skips exactly one complete data item (any nesting, tags, floats of any width); 0 or -1. Never
 * recurses, never reads outside [p, p + len). */
int tqb_cbor_skip(tqb_cbor_reader_t *r);
/* A number: integer of major type 0/1 or float16/32/64. 0 or -1 (nothing consumed on -1). */
int tqb_cbor_read_number(tqb_cbor_reader_t *r, double *v);

/* ---------------------------------------------------------------- messages (PROTOCOL §6) */

/* A text: `len` bytes at `ptr`, not NUL-terminated when it points into a decoded frame. */
typedef struct {
    const char *ptr;
    size_t len;
} tqb_text_t;

tqb_text_t tqb_text(const char *nul_terminated); /* NULL gives the empty text */

/* A channel as a firmware declares it (NUL-terminated strings). */
typedef struct {
    const char *name; /* [A-Za-z0-9_.-]{1,64}, unique */
    const char *unit; /* at most 64 bytes */
    double min, max;  /* physical range, min < max */
} tqb_channel_t;

/* A channel as decoded from a HELLO (views into the frame). */
typedef struct {
    tqb_text_t name, unit;
    double min, max;
} tqb_channel_view_t;

typedef struct {
    tqb_text_t fw, device;
    size_t n_channels;
    /* Encoding reads `channels` when it is non-NULL, else `channels_cbor`. Decoding sets
     * `channels_cbor` (the channel maps inside the frame) and leaves `channels` NULL: use
     * tqb_hello_channel(). That keeps a decoded message small on a microcontroller. */
    const tqb_channel_t *channels;
    const uint8_t *channels_cbor;
    size_t channels_cbor_len;
    double rate_hz;
    uint32_t batch;
    uint32_t heartbeat_ms;
    size_t n_commands;
    uint8_t commands[TQB_MAX_COMMANDS];
    uint8_t proto_min;
} tqb_hello_t;

typedef struct {
    uint8_t channels;
    uint32_t period_us;
    size_t n_values; /* all values: samples x channels */
    /* Encoding reads `values_le` (4 bytes each, float32 little-endian, the wire form) when it is
     * non-NULL, else `values`. Decoding sets `values_le` into the frame: use tqb_sample_value(). */
    const float *values;
    const uint8_t *values_le;
    uint8_t has_t0;
    uint64_t t0_us;
} tqb_samples_t;

typedef struct {
    uint64_t uptime_ms;
    uint64_t dropped;
    uint8_t has_battery, has_temperature;
    uint32_t battery_mv;
    double temperature_c;
} tqb_heartbeat_t;

typedef struct {
    uint32_t nonce;
    uint64_t host_ms;
} tqb_time_sync_t;

typedef struct {
    uint32_t nonce;
    uint64_t host_ms;
    uint32_t device_ms;
} tqb_time_sync_reply_t;

typedef struct {
    uint32_t id;
    uint8_t code;
    uint8_t has_arg;
    double arg;
} tqb_command_t;

typedef struct {
    uint32_t id;
    uint8_t status;
    uint8_t has_detail;
    tqb_text_t detail;
} tqb_ack_t;

typedef struct {
    uint8_t level;
    tqb_text_t text;
} tqb_log_t;

typedef struct {
    /* TQB_HELLO ... TQB_LOG, or an unknown type. HELLO_REQUEST and unknown types have no fields:
     * the frame's `body` is all there is. */
    uint8_t type;
    union {
        tqb_hello_t hello;
        tqb_samples_t samples;
        tqb_heartbeat_t heartbeat;
        tqb_time_sync_t time_sync;
        tqb_time_sync_reply_t time_sync_reply;
        tqb_command_t command;
        tqb_ack_t ack;
        tqb_log_t log;
    } u;
} tqb_message_t;

typedef struct {
    uint8_t version, incompat_flags, compat_flags;
    uint16_t seq;
    uint32_t time_ms;
} tqb_header_t;

typedef struct {
    tqb_header_t hdr;
    tqb_message_t msg;
    const uint8_t *body; /* decoded: the CBOR body inside the decode buffer */
    size_t body_len;
} tqb_frame_t;

/* Channel i of a decoded (or encodable) HELLO; 0 or -1. */
int tqb_hello_channel(const tqb_hello_t *h, size_t i, tqb_channel_view_t *out);
/* Value i (sample-major) of a SAMPLES message. */
float tqb_sample_value(const tqb_samples_t *s, size_t i);
uint32_t tqb_sample_bits(const tqb_samples_t *s, size_t i);

/* The CBOR body of a message (PROTOCOL §5, §6). Returns the length, 0 on TQB_ERR_NO_SPACE. */
size_t tqb_encode_body(const tqb_message_t *m, uint8_t *out, size_t cap);
/* Interprets a well-formed body map by type: TQB_OK, TQB_ERR_UNKNOWN_TYPE or TQB_ERR_BAD_MESSAGE.
 * The message points into `body`. */
tqb_err_t tqb_parse_body(uint8_t type, const uint8_t *body, size_t len, tqb_message_t *out);

/* Head room that tqb_encode_frame() keeps in front of the frame it builds in `cap` bytes. */
size_t tqb_tx_headroom(size_t cap);
/* Builds header + body + CRC, COBS-encodes it and appends the 0x00 delimiter, all inside out[0..cap):
 * the decoded frame is first built at out + tqb_tx_headroom(cap) and then encoded towards the start,
 * so no second buffer is needed. Message data (e.g. values_le) may itself lie in `out` at or after
 * that offset. Returns TQB_OK and *wire_len, or TQB_ERR_NO_SPACE / TQB_ERR_OVERSIZE. */
tqb_err_t tqb_encode_frame(const tqb_header_t *h, const tqb_message_t *m, uint8_t *out, size_t cap,
                           size_t *wire_len);

/* Decodes one delimited piece (without its 0x00), checking in PROTOCOL §3 order: COBS, length,
 * CRC, version, incompat flags, body; then the message (TQB_ERR_UNKNOWN_TYPE / TQB_ERR_BAD_MESSAGE
 * still fill out->hdr). The decoded frame goes to work[0..cap), which may be the piece itself or
 * start before it in the same buffer. The frame points into `work`. */
tqb_err_t tqb_decode_frame(const uint8_t *piece, size_t len, uint8_t *work, size_t cap, tqb_frame_t *out);

/* ---------------------------------------------------------------- stream receiver (PROTOCOL §2) */

typedef struct {
    uint32_t frames;          /* valid frames handed out */
    uint32_t discarded_bytes; /* bytes that were not part of a valid frame or its delimiter */
    uint32_t bad_cobs, runt, oversize, bad_crc, bad_version, unknown_flags, bad_body;
    uint32_t resyncs;         /* frames found glued behind other bytes (PROTOCOL §2) */
    uint32_t unknown_type, bad_message;
    uint32_t seq_gaps, seq_resets; /* PROTOCOL §7 */
} tqb_rx_stats_t;

typedef struct {
    uint8_t *buf;
    size_t cap;   /* min(buffer size, TQB_MAX_ENCODED): longer pieces are oversize */
    size_t start; /* ring start while a piece overflows */
    size_t len;
    uint8_t overflowed;
    int32_t expected_seq; /* -1: none yet */
    tqb_rx_stats_t stats;
} tqb_rx_t;

typedef struct {
    uint8_t got_frame;     /* 1: `frame` is a valid frame (PROTOCOL §3) */
    tqb_err_t msg_err;     /* with got_frame: TQB_OK, TQB_ERR_UNKNOWN_TYPE or TQB_ERR_BAD_MESSAGE */
    tqb_err_t discard_err; /* != TQB_OK: `discarded` bytes were dropped, for this reason */
    size_t discarded;
    tqb_frame_t frame;     /* points into the receiver's buffer until the next tqb_rx_feed() */
} tqb_rx_event_t;

/* buf of TQB_RX_BUF_MAX bytes receives every possible frame; a device that only receives commands
 * and time syncs can use 64. */
void tqb_rx_init(tqb_rx_t *rx, uint8_t *buf, size_t len);
/* Consumes bytes up to and including the first delimiter that produces an event (a frame or a
 * discard), or all of them. Returns the number consumed; `ev` says what happened (all zero: nothing
 * yet). Call again with the rest. */
size_t tqb_rx_feed(tqb_rx_t *rx, const uint8_t *data, size_t len, tqb_rx_event_t *ev);
void tqb_rx_reset_seq(tqb_rx_t *rx);

/* ---------------------------------------------------------------- device API */

/* Writes all `len` bytes (blocking is fine); returns 0, or non-zero when they could not be sent. */
typedef int (*tqb_write_fn)(void *user, const uint8_t *data, size_t len);
/* Optional: told about each command the library answered by itself (a code not in `commands`
 * NACKed with status 1, or a repeated id re-ACKed); `repeat` says which. */
typedef void (*tqb_auto_ack_fn)(void *user, const tqb_command_t *cmd, uint8_t status, int repeat);

typedef struct {
    const char *fw;              /* firmware version text, at most 200 bytes */
    const char *device_id;       /* [A-Za-z0-9_.-]{1,64} */
    const tqb_channel_t *channels;
    uint8_t n_channels;          /* 1..32 */
    double rate_hz;              /* > 0 */
    uint16_t batch;              /* samples per SAMPLES frame, >= 1 */
    uint32_t heartbeat_ms;       /* > 0 */
    const uint8_t *commands;     /* command codes implemented (PROTOCOL §8: the host sends no others) */
    uint8_t n_commands;          /* 0..16 */
    tqb_auto_ack_fn on_auto_ack; /* may be NULL */
} tqb_config_t;

typedef struct {
    uint32_t id;
    uint8_t state; /* 0 unused, 1 given to the application, 2 acknowledged */
    uint8_t status;
} tqb_cmd_memo_t;

typedef struct {
    uint32_t frames_sent, write_errors, commands, repeats, unsupported, time_syncs;
} tqb_tx_stats_t;

typedef struct {
    tqb_config_t cfg;
    tqb_write_fn write;
    void *user;
    uint8_t *tx;
    size_t txlen;
    size_t store_off;   /* buffered samples live at tx[store_off ..), float32 LE as on the wire */
    uint16_t seq;       /* PROTOCOL §7 */
    uint32_t period_us;
    uint16_t n_buffered;
    uint32_t first_sample_ms;
    uint32_t last_tx_ms, last_hello_ms, last_now_ms;
    uint32_t uptime_wraps;
    uint64_t dropped;
    uint8_t has_battery, has_temperature;
    uint32_t battery_mv;
    double temperature_c;
    tqb_rx_t rx;
    tqb_command_t queue[TQB_CMD_QUEUE];
    uint8_t q_head, q_len;
    tqb_cmd_memo_t memo[TQB_CMD_MEMORY];
    uint8_t memo_next;
    tqb_tx_stats_t stats;
} tqb_t;

/* Bytes of tx buffer that tqb_begin() needs for this configuration (0 if it is invalid). */
size_t tqb_tx_needed(const tqb_config_t *cfg);
/* Checks the configuration (TQB_ERR_ARG), sends a lone 0x00 (PROTOCOL §2) and HELLO (PROTOCOL §6).
 * The config's strings and arrays must outlive `t`. rxbuf: 64 bytes is enough for commands and
 * time syncs. */
tqb_err_t tqb_begin(tqb_t *t, const tqb_config_t *cfg, uint8_t *txbuf, size_t txlen, uint8_t *rxbuf,
                    size_t rxlen, tqb_write_fn write, void *user, uint32_t now_ms);
/* A soft restart: seq back to 0, buffered samples and timers dropped, 0x00 and HELLO sent again.
 * The command memory is kept, so a retried REBOOT is re-ACKed and not executed twice (PROTOCOL §6). */
tqb_err_t tqb_restart(tqb_t *t, uint32_t now_ms);
/* Buffers one sample (n_channels floats; NaN = missing reading) taken at now_ms; sends SAMPLES when
 * `batch` samples are buffered. */
tqb_err_t tqb_add_sample(tqb_t *t, const float *values, uint32_t now_ms);
/* Sends the buffered samples now, if any. */
tqb_err_t tqb_flush(tqb_t *t, uint32_t now_ms);
/* Periodic duties: HELLO every 10 s, HEARTBEAT when nothing was sent for heartbeat_ms (PROTOCOL §9). */
tqb_err_t tqb_poll(tqb_t *t, uint32_t now_ms);
/* Feeds received bytes. Answers TIME_SYNC itself (device_ms = now_ms) and HELLO_REQUEST (a HELLO at
 * once), re-ACKs repeated command ids, NACKs unsupported codes, and queues new commands for
 * tqb_poll_command(). */
void tqb_rx_bytes(tqb_t *t, const uint8_t *data, size_t len, uint32_t now_ms);
/* 1 and *out when a new command is waiting; 0 otherwise. Answer each with tqb_ack(). */
int tqb_poll_command(tqb_t *t, tqb_command_t *out);
/* ACK (status 0) or NACK a command; detail may be NULL. Texts of ACK and LOG are cut (never inside
 * a UTF-8 sequence) to 200 bytes and to what the tx buffer holds besides the sample store: every
 * byte of txbuf beyond tqb_tx_needed() is room for longer texts, up to 213 bytes more. */
tqb_err_t tqb_ack(tqb_t *t, uint32_t id, uint8_t status, const char *detail, uint32_t now_ms);
tqb_err_t tqb_log(tqb_t *t, uint8_t level, const char *text, uint32_t now_ms);
/* Changes the nominal rate: flushes what was sampled at the old rate, then sends HELLO so the host
 * sees the new rate_hz (PROTOCOL §6). */
tqb_err_t tqb_set_rate(tqb_t *t, double rate_hz, uint32_t now_ms);
/* Optional HEARTBEAT fields (PROTOCOL §6). */
void tqb_set_battery_mv(tqb_t *t, uint32_t mv);
void tqb_set_temperature(tqb_t *t, double celsius);
/* Sends any message with the next seq (for host programs and tests). */
tqb_err_t tqb_send(tqb_t *t, const tqb_message_t *m, uint32_t now_ms);

#ifdef __cplusplus
}
#endif

#endif /* TINYQA_BRIDGE_H */
