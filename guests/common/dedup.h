/* At-most-once execution, as in the 6.824 primary/backup labs: per
 * client, the highest sequence number applied and the reply it got. */
#ifndef GUEST_DEDUP_H
#define GUEST_DEDUP_H

#include "types.h"

#define DEDUP_CLIENTS 128
#define DEDUP_REPLY_MAX 1100

struct dedup_entry {
    u32 client;
    u32 seq; /* highest applied; 0 = none yet */
    char reply[DEDUP_REPLY_MAX];
};

enum {
    DEDUP_NEW,    /* seq is new for this client: apply it (entry set) */
    DEDUP_REPEAT, /* seq == last applied: resend entry->reply */
    DEDUP_STALE,  /* seq < last applied: reply "ERR stale" */
    DEDUP_FULL,   /* unknown client and no room for another */
};

int dedup_check(u32 client, u32 seq, struct dedup_entry **entry);

/* Remember reply as the answer to seq (call after applying). */
void dedup_record(struct dedup_entry *e, u32 seq, const char *reply);

struct request;

/* Answers r at most once: a repeat gets the remembered reply, an older seq
 * ERR stale. A new request is applied by apply(), which writes its reply
 * into body and returns whether it is an answer worth remembering. */
void dedup_serve(const struct request *r, int (*apply)(const struct request *r), const char *body);

#endif
