/*
 * The `.expect` line format of firmware-bridge/vectors/README.md: what the C side decodes is printed
 * in it and compared as text with what the TypeScript generator wrote, and a valid vector's text is
 * parsed back and re-encoded to compare bytes.
 */
#include "tqb_expect.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *p;
    size_t cap, len;
    int overflow;
} sb_t;

static void sb_printf(sb_t *b, const char *fmt, ...)
{
    va_list ap;
    int n;
    size_t room = b->len < b->cap ? b->cap - b->len : 0;
    va_start(ap, fmt);
    n = vsnprintf(room ? b->p + b->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= room) {
        b->overflow = 1;
        b->len = b->cap;
        return;
    }
    b->len += (size_t)n;
}

static void sb_line_text(sb_t *b, const char *key, tqb_text_t t)
{
    /* <text> runs to the end of the line (vectors/README.md). */
    sb_printf(b, "%s %.*s\n", key, (int)t.len, t.ptr ? t.ptr : "");
}

static unsigned long long ull(uint64_t v)
{
    return (unsigned long long)v;
}

/* `<num>` is C's %.9g of the number (vectors/README.md). */
#define NUM "%.9g"

static void dump_message(sb_t *b, const tqb_message_t *m)
{
    size_t i;
    switch (m->type) {
    case TQB_HELLO: {
        const tqb_hello_t *h = &m->u.hello;
        sb_line_text(b, "fw", h->fw);
        sb_line_text(b, "device", h->device);
        sb_printf(b, "channels %u\n", (unsigned)h->n_channels);
        for (i = 0; i < h->n_channels; i++) {
            tqb_channel_view_t c;
            if (tqb_hello_channel(h, i, &c) != 0) {
                b->overflow = 1;
                return;
            }
            sb_printf(b, "channel %u %.*s %.*s " NUM " " NUM "\n", (unsigned)i, (int)c.name.len, c.name.ptr,
                      (int)c.unit.len, c.unit.ptr, c.min, c.max);
        }
        sb_printf(b, "rate_hz " NUM "\n", h->rate_hz);
        sb_printf(b, "batch %lu\n", (unsigned long)h->batch);
        sb_printf(b, "heartbeat_ms %lu\n", (unsigned long)h->heartbeat_ms);
        sb_printf(b, "commands");
        for (i = 0; i < h->n_commands; i++) sb_printf(b, " %u", (unsigned)h->commands[i]);
        sb_printf(b, "\nproto_min %u\n", (unsigned)h->proto_min);
        break;
    }
    case TQB_SAMPLES: {
        const tqb_samples_t *s = &m->u.samples;
        sb_printf(b, "channels %u\n", (unsigned)s->channels);
        sb_printf(b, "period_us %lu\n", (unsigned long)s->period_us);
        sb_printf(b, "count %u\n", (unsigned)(s->channels ? s->n_values / s->channels : 0));
        for (i = 0; i < s->n_values; i++) sb_printf(b, "value %u %08lx\n", (unsigned)i, (unsigned long)tqb_sample_bits(s, i));
        if (s->has_t0) sb_printf(b, "t0_us %llu\n", ull(s->t0_us));
        break;
    }
    case TQB_HEARTBEAT: {
        const tqb_heartbeat_t *h = &m->u.heartbeat;
        sb_printf(b, "uptime_ms %llu\ndropped %llu\n", ull(h->uptime_ms), ull(h->dropped));
        if (h->has_battery) sb_printf(b, "battery_mv %lu\n", (unsigned long)h->battery_mv);
        if (h->has_temperature) sb_printf(b, "temperature_c " NUM "\n", h->temperature_c);
        break;
    }
    case TQB_TIME_SYNC:
        sb_printf(b, "nonce %lu\nhost_ms %llu\n", (unsigned long)m->u.time_sync.nonce, ull(m->u.time_sync.host_ms));
        break;
    case TQB_TIME_SYNC_REPLY:
        sb_printf(b, "nonce %lu\nhost_ms %llu\ndevice_ms %lu\n", (unsigned long)m->u.time_sync_reply.nonce,
                  ull(m->u.time_sync_reply.host_ms), (unsigned long)m->u.time_sync_reply.device_ms);
        break;
    case TQB_COMMAND:
        sb_printf(b, "id %lu\ncode %u\n", (unsigned long)m->u.command.id, (unsigned)m->u.command.code);
        if (m->u.command.has_arg) sb_printf(b, "arg " NUM "\n", m->u.command.arg);
        break;
    case TQB_ACK:
        sb_printf(b, "id %lu\nstatus %u\n", (unsigned long)m->u.ack.id, (unsigned)m->u.ack.status);
        if (m->u.ack.has_detail) sb_line_text(b, "detail", m->u.ack.detail);
        break;
    case TQB_LOG:
        sb_printf(b, "level %u\n", (unsigned)m->u.log.level);
        sb_line_text(b, "text", m->u.log.text);
        break;
    case TQB_HELLO_REQUEST: /* no lines (vectors/README.md) */
    default:
        /* An unknown type: the header says all there is to say. */
        break;
    }
}

int tqb_dump_frame(const tqb_frame_t *f, char *out, size_t cap)
{
    sb_t b;
    b.p = out;
    b.cap = cap;
    b.len = 0;
    b.overflow = 0;
    if (cap) out[0] = '\0';
    sb_printf(&b, "valid 1\nversion %u\nincompat_flags %u\ncompat_flags %u\ntype %u\nseq %u\ntime_ms %lu\n",
              (unsigned)f->hdr.version, (unsigned)f->hdr.incompat_flags, (unsigned)f->hdr.compat_flags,
              (unsigned)f->msg.type, (unsigned)f->hdr.seq, (unsigned long)f->hdr.time_ms);
    dump_message(&b, &f->msg);
    return b.overflow ? -1 : (int)b.len;
}

int tqb_dump_error(tqb_err_t e, char *out, size_t cap)
{
    int n = snprintf(out, cap, "valid 0\nerror %s\n", tqb_err_name(e));
    return n < 0 || (size_t)n >= cap ? -1 : n;
}

tqb_err_t tqb_err_from_name(const char *name)
{
    int e;
    for (e = 0; e < TQB_ERR_COUNT; e++)
        if (strcmp(tqb_err_name((tqb_err_t)e), name) == 0) return (tqb_err_t)e;
    return TQB_ERR_COUNT;
}

/* ---------------------------------------------------------------- parsing */

static const char *pool_add(tqb_expect_t *e, const char *s, size_t len)
{
    char *p;
    if (len + 1 > sizeof e->pool - e->pool_len) return NULL;
    p = e->pool + e->pool_len;
    memcpy(p, s, len);
    p[len] = '\0';
    e->pool_len += len + 1;
    return p;
}

static int pool_text(tqb_expect_t *e, const char *s, tqb_text_t *t)
{
    const char *p = pool_add(e, s, strlen(s));
    if (!p) return -1;
    t->ptr = p;
    t->len = strlen(s);
    return 0;
}

static int parse_u64(const char *s, uint64_t max, uint64_t *v)
{
    char *end;
    unsigned long long x;
    if (*s < '0' || *s > '9') return -1;
    x = strtoull(s, &end, 10);
    if (*end != '\0' || x > max) return -1;
    *v = (uint64_t)x;
    return 0;
}

static int parse_num(const char *s, double *v)
{
    char *end;
    if (*s == '\0') return -1;
    *v = strtod(s, &end);
    return *end == '\0' ? 0 : -1;
}

/* "channel <i> <name> <unit> <min> <max>": the unit may be empty or hold spaces, so min and max
 * are taken from the end. */
static int parse_channel_line(tqb_expect_t *e, char *rest, size_t want)
{
    char *sp, *name, *unit, *minp, *maxp;
    uint64_t idx;
    tqb_channel_t *c;
    if (want >= TQB_MAX_CHANNELS) return -1;
    sp = strchr(rest, ' ');
    if (!sp) return -1;
    *sp = '\0';
    if (parse_u64(rest, TQB_MAX_CHANNELS, &idx) != 0 || idx != want) return -1;
    name = sp + 1;
    sp = strchr(name, ' ');
    if (!sp) return -1;
    *sp = '\0';
    unit = sp + 1;
    maxp = strrchr(unit, ' ');
    if (!maxp) return -1;
    *maxp++ = '\0';
    minp = strrchr(unit, ' ');
    if (minp) {
        *minp++ = '\0';
    } else {
        /* "<name>  <min> <max>" splits as an empty unit only when there was a space for it. */
        return -1;
    }
    c = &e->channels[want];
    if (!(c->name = pool_add(e, name, strlen(name))) || !(c->unit = pool_add(e, unit, strlen(unit)))) return -1;
    if (parse_num(minp, &c->min) != 0 || parse_num(maxp, &c->max) != 0) return -1;
    return 0;
}

int tqb_parse_expect(const char *text, tqb_expect_t *e)
{
    char line[1024];
    const char *p = text;
    int lineno = 0;
    size_t n_channel_lines = 0, n_values = 0;
    uint64_t v, count = 0;
    tqb_frame_t *f = &e->frame;
    tqb_message_t *m = &f->msg;
    memset(e, 0, sizeof *e);
    e->valid = -1;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char *key, *rest, *sp;
        lineno++;
        if (len >= sizeof line) goto bad;
        memcpy(line, p, len);
        line[len] = '\0';
        if (len && line[len - 1] == '\r') line[--len] = '\0';
        p = nl ? nl + 1 : p + len;
        if (len == 0) continue;
        key = line;
        sp = strchr(line, ' ');
        if (sp) {
            *sp = '\0';
            rest = sp + 1;
        } else {
            rest = line + len;
        }
        if (!strcmp(key, "valid")) {
            if (parse_u64(rest, 1, &v) != 0) goto bad;
            e->valid = (int)v;
        } else if (!strcmp(key, "error")) {
            e->error = tqb_err_from_name(rest);
            if (e->error == TQB_ERR_COUNT || e->valid != 0) goto bad;
        } else if (!strcmp(key, "version")) {
            if (parse_u64(rest, 255, &v) != 0) goto bad;
            f->hdr.version = (uint8_t)v;
        } else if (!strcmp(key, "incompat_flags")) {
            if (parse_u64(rest, 255, &v) != 0) goto bad;
            f->hdr.incompat_flags = (uint8_t)v;
        } else if (!strcmp(key, "compat_flags")) {
            if (parse_u64(rest, 255, &v) != 0) goto bad;
            f->hdr.compat_flags = (uint8_t)v;
        } else if (!strcmp(key, "type")) {
            if (parse_u64(rest, 255, &v) != 0) goto bad;
            m->type = (uint8_t)v;
        } else if (!strcmp(key, "seq")) {
            if (parse_u64(rest, 65535, &v) != 0) goto bad;
            f->hdr.seq = (uint16_t)v;
        } else if (!strcmp(key, "time_ms")) {
            if (parse_u64(rest, 0xFFFFFFFFu, &v) != 0) goto bad;
            f->hdr.time_ms = (uint32_t)v;
        } else if (m->type == TQB_HELLO) {
            tqb_hello_t *h = &m->u.hello;
            if (!strcmp(key, "fw")) {
                if (pool_text(e, rest, &h->fw) != 0) goto bad;
            } else if (!strcmp(key, "device")) {
                if (pool_text(e, rest, &h->device) != 0) goto bad;
            } else if (!strcmp(key, "channels")) {
                if (parse_u64(rest, TQB_MAX_CHANNELS, &v) != 0) goto bad;
                h->n_channels = (size_t)v;
                h->channels = e->channels;
            } else if (!strcmp(key, "channel")) {
                if (parse_channel_line(e, rest, n_channel_lines) != 0) goto bad;
                n_channel_lines++;
            } else if (!strcmp(key, "rate_hz")) {
                if (parse_num(rest, &h->rate_hz) != 0) goto bad;
            } else if (!strcmp(key, "batch")) {
                if (parse_u64(rest, 0xFFFFFFFFu, &v) != 0) goto bad;
                h->batch = (uint32_t)v;
            } else if (!strcmp(key, "heartbeat_ms")) {
                if (parse_u64(rest, 0xFFFFFFFFu, &v) != 0) goto bad;
                h->heartbeat_ms = (uint32_t)v;
            } else if (!strcmp(key, "commands")) {
                char *tok = strtok(rest, " ");
                h->n_commands = 0;
                while (tok) {
                    if (h->n_commands >= TQB_MAX_COMMANDS || parse_u64(tok, 255, &v) != 0) goto bad;
                    h->commands[h->n_commands++] = (uint8_t)v;
                    tok = strtok(NULL, " ");
                }
            } else if (!strcmp(key, "proto_min")) {
                if (parse_u64(rest, 255, &v) != 0) goto bad;
                h->proto_min = (uint8_t)v;
            } else {
                goto bad;
            }
        } else if (m->type == TQB_SAMPLES) {
            tqb_samples_t *s = &m->u.samples;
            if (!strcmp(key, "channels")) {
                if (parse_u64(rest, TQB_MAX_CHANNELS, &v) != 0) goto bad;
                s->channels = (uint8_t)v;
            } else if (!strcmp(key, "period_us")) {
                if (parse_u64(rest, 0xFFFFFFFFu, &v) != 0) goto bad;
                s->period_us = (uint32_t)v;
            } else if (!strcmp(key, "count")) {
                if (parse_u64(rest, TQB_MAX_FRAME, &count) != 0) goto bad;
            } else if (!strcmp(key, "value")) {
                char *bits = strchr(rest, ' ');
                char *end;
                unsigned long u;
                if (!bits) goto bad;
                *bits++ = '\0';
                if (parse_u64(rest, TQB_MAX_FRAME / 4 - 1, &v) != 0 || v != n_values || strlen(bits) != 8) goto bad;
                u = strtoul(bits, &end, 16);
                if (*end != '\0') goto bad;
                e->values_le[4 * n_values + 0] = (uint8_t)(u & 0xFFu);
                e->values_le[4 * n_values + 1] = (uint8_t)((u >> 8) & 0xFFu);
                e->values_le[4 * n_values + 2] = (uint8_t)((u >> 16) & 0xFFu);
                e->values_le[4 * n_values + 3] = (uint8_t)((u >> 24) & 0xFFu);
                n_values++;
            } else if (!strcmp(key, "t0_us")) {
                if (parse_u64(rest, UINT64_MAX, &s->t0_us) != 0) goto bad;
                s->has_t0 = 1;
            } else {
                goto bad;
            }
            s->values_le = e->values_le;
            s->n_values = n_values;
        } else if (m->type == TQB_HEARTBEAT) {
            tqb_heartbeat_t *h = &m->u.heartbeat;
            if (!strcmp(key, "uptime_ms")) {
                if (parse_u64(rest, UINT64_MAX, &h->uptime_ms) != 0) goto bad;
            } else if (!strcmp(key, "dropped")) {
                if (parse_u64(rest, UINT64_MAX, &h->dropped) != 0) goto bad;
            } else if (!strcmp(key, "battery_mv")) {
                if (parse_u64(rest, 0xFFFFFFFFu, &v) != 0) goto bad;
                h->battery_mv = (uint32_t)v;
                h->has_battery = 1;
            } else if (!strcmp(key, "temperature_c")) {
                if (parse_num(rest, &h->temperature_c) != 0) goto bad;
                h->has_temperature = 1;
            } else {
                goto bad;
            }
        } else if (m->type == TQB_TIME_SYNC || m->type == TQB_TIME_SYNC_REPLY) {
            int reply = m->type == TQB_TIME_SYNC_REPLY;
            if (!strcmp(key, "nonce")) {
                if (parse_u64(rest, 0xFFFFFFFFu, &v) != 0) goto bad;
                if (reply)
                    m->u.time_sync_reply.nonce = (uint32_t)v;
                else
                    m->u.time_sync.nonce = (uint32_t)v;
            } else if (!strcmp(key, "host_ms")) {
                if (parse_u64(rest, UINT64_MAX, &v) != 0) goto bad;
                if (reply)
                    m->u.time_sync_reply.host_ms = v;
                else
                    m->u.time_sync.host_ms = v;
            } else if (reply && !strcmp(key, "device_ms")) {
                if (parse_u64(rest, 0xFFFFFFFFu, &v) != 0) goto bad;
                m->u.time_sync_reply.device_ms = (uint32_t)v;
            } else {
                goto bad;
            }
        } else if (m->type == TQB_COMMAND) {
            if (!strcmp(key, "id")) {
                if (parse_u64(rest, 0xFFFFFFFFu, &v) != 0) goto bad;
                m->u.command.id = (uint32_t)v;
            } else if (!strcmp(key, "code")) {
                if (parse_u64(rest, 255, &v) != 0) goto bad;
                m->u.command.code = (uint8_t)v;
            } else if (!strcmp(key, "arg")) {
                if (parse_num(rest, &m->u.command.arg) != 0) goto bad;
                m->u.command.has_arg = 1;
            } else {
                goto bad;
            }
        } else if (m->type == TQB_ACK) {
            if (!strcmp(key, "id")) {
                if (parse_u64(rest, 0xFFFFFFFFu, &v) != 0) goto bad;
                m->u.ack.id = (uint32_t)v;
            } else if (!strcmp(key, "status")) {
                if (parse_u64(rest, 255, &v) != 0) goto bad;
                m->u.ack.status = (uint8_t)v;
            } else if (!strcmp(key, "detail")) {
                if (pool_text(e, rest, &m->u.ack.detail) != 0) goto bad;
                m->u.ack.has_detail = 1;
            } else {
                goto bad;
            }
        } else if (m->type == TQB_LOG) {
            if (!strcmp(key, "level")) {
                if (parse_u64(rest, 255, &v) != 0) goto bad;
                m->u.log.level = (uint8_t)v;
            } else if (!strcmp(key, "text")) {
                if (pool_text(e, rest, &m->u.log.text) != 0) goto bad;
            } else {
                goto bad;
            }
        } else {
            goto bad;
        }
    }
    if (e->valid < 0) return -1;
    if (m->type == TQB_HELLO && n_channel_lines != m->u.hello.n_channels) return -1;
    if (m->type == TQB_SAMPLES && n_values != count * m->u.samples.channels) return -1;
    return 0;
bad:
    e->bad_line = lineno;
    return -1;
}
