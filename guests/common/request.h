/* Request lines of the line-protocol servers (kv, lock):
 *   <client> <seq> <OP> [args...]
 * and their replies: <client> <seq> <body>. */
#ifndef GUEST_REQUEST_H
#define GUEST_REQUEST_H

#include "types.h"

#define REQUEST_LINE_MAX 1100 /* bytes in a request line, without "\n" */
#define REQUEST_MAX_ARGS 4    /* tokens after the op */

struct request {
    u32 client, seq;       /* 0 0 when they could not be parsed */
    const char *op;
    u32 nargs;
    const char *args[REQUEST_MAX_ARGS];
    u32 arglen[REQUEST_MAX_ARGS];
};

enum { REQUEST_OK, REQUEST_EMPTY, REQUEST_ERROR };

/* Read the next request line from COM1 (blocking, idles in hlt). The
 * line buffer is owned by this module and reused by the next call.
 * Tokens are separated by spaces or tabs and must be printable ASCII
 * (0x21..0x7E). Returns REQUEST_EMPTY for a blank line (no reply),
 * REQUEST_ERROR with *reason set (badclient, badseq, badchar, badargs,
 * toolong), else REQUEST_OK. */
int request_read(struct request *r, const char **reason);

/* Print "<client> <seq> <body>\n". */
void reply(u32 client, u32 seq, const char *body);

/* Parse a decimal 0..4294967295 (no sign, no spaces). */
int parse_u32(const char *s, u32 len, u32 *out);

#endif
