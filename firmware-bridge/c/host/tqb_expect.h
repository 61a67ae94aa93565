/*
 * Host-only helpers (they use stdio): the flat `.expect` text format of the golden vectors
 * (firmware-bridge/vectors/README.md), printed from a frame and parsed back into one.
 */
#ifndef TQB_EXPECT_H
#define TQB_EXPECT_H

#include <stddef.h>

#include "../tinyqa_bridge.h"

/* Prints a valid frame as `.expect` text ("valid 1", header lines, message lines). Works for decoded
 * frames and for frames built to be encoded. Returns the length, or -1 if it did not fit in cap. */
int tqb_dump_frame(const tqb_frame_t *f, char *out, size_t cap);
/* "valid 0\nerror <counter>\n". */
int tqb_dump_error(tqb_err_t e, char *out, size_t cap);
/* tqb_err_t for a counter name such as "bad_crc"; TQB_ERR_COUNT if unknown. */
tqb_err_t tqb_err_from_name(const char *name);

/* A parsed `.expect` file: the frame and the storage its texts, channels and values point into. */
typedef struct {
    int valid;
    tqb_err_t error; /* when !valid */
    tqb_frame_t frame;
    tqb_channel_t channels[TQB_MAX_CHANNELS];
    uint8_t values_le[TQB_MAX_FRAME];
    char pool[8192];
    size_t pool_len;
    int bad_line; /* first line that could not be parsed (1-based), 0 if none */
} tqb_expect_t;

/* 0 on success, -1 with e->bad_line set. */
int tqb_parse_expect(const char *text, tqb_expect_t *e);

#endif
