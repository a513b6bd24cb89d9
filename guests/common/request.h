/* Request lines of the line-protocol servers (kv, lock):
 *   <client> <seq> <OP> [args...]
 * and their replies: <client> <seq> <body>. A request comes from COM1 or
 * from another source (kv's UDP port, net.c); its reply goes back the way
 * it came. */
#ifndef GUEST_REQUEST_H
#define GUEST_REQUEST_H

#include "types.h"

#define REQUEST_LINE_MAX 1100 /* bytes in a request line, without "\n" */
#define REQUEST_MAX_ARGS 4    /* tokens after the op */

/* Where a request came from, and so where its reply goes. */
struct origin {
    /* Sends one whole reply line, "\n" included. */
    void (*send)(const struct origin *self, const char *line, u32 len);
};

extern const struct origin serial_origin; /* COM1 */

struct request {
    u32 client, seq;       /* 0 0 when they could not be parsed */
    const char *op;
    u32 nargs;
    const char *args[REQUEST_MAX_ARGS];
    u32 arglen[REQUEST_MAX_ARGS];
    const struct origin *from;
};

enum { REQUEST_OK, REQUEST_EMPTY, REQUEST_ERROR };

/* A source of requests besides COM1, one per message (kv's UDP port).
 * Called with interrupts disabled and must not enable them; returns 1 with
 * the message's bytes (*data, *len: one line, a trailing "\n" optional,
 * valid until the next call) and where the reply goes (*from, valid until
 * the next call), or 0 when nothing is waiting. Whatever gives it
 * something to return must interrupt, to end the wait in hlt. */
typedef int (*request_source)(const char **data, u32 *len, const struct origin **from);
void request_set_source(request_source poll);

/* Wait for the next request line from COM1 or the source, whichever is
 * complete first (idles in hlt, returns with interrupts on). The line
 * buffers are owned by this module and reused by the next call. Tokens
 * are separated by spaces or tabs and must be printable ASCII
 * (0x21..0x7E). Returns REQUEST_EMPTY for a blank line (no reply),
 * REQUEST_ERROR with *reason set (badclient, badseq, badchar, badargs,
 * toolong), else REQUEST_OK. r->from is set in every case. */
int request_read(struct request *r, const char **reason);

/* Send "<client> <seq> <body>\n" to where r came from. */
void reply(const struct request *r, const char *body);

/* Send "<client> <seq> ERR <reason>\n" to where r came from. */
void reply_error(const struct request *r, const char *reason);

/* Send text as it is to where r came from. */
void reply_text(const struct request *r, const char *text);

/* Parse a decimal 0..4294967295 (no sign, no spaces). */
int parse_u32(const char *s, u32 len, u32 *out);

#endif
