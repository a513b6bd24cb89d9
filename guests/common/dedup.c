/* A fixed table of clients, searched linearly. */
#include "dedup.h"
#include "request.h"

static struct dedup_entry table[DEDUP_CLIENTS];
static u32 used;

int dedup_check(u32 client, u32 seq, struct dedup_entry **entry)
{
    struct dedup_entry *e = NULL;
    for (u32 i = 0; i < used; i++) {
        if (table[i].client == client) {
            e = &table[i];
            break;
        }
    }
    if (!e) {
        if (used == DEDUP_CLIENTS)
            return DEDUP_FULL;
        e = &table[used++];
        e->client = client;
        e->seq = 0;
        e->reply[0] = 0;
    }
    *entry = e;
    if (e->seq != 0 && seq == e->seq)
        return DEDUP_REPEAT;
    if (seq < e->seq)
        return DEDUP_STALE;
    return DEDUP_NEW;
}

void dedup_record(struct dedup_entry *e, u32 seq, const char *reply)
{
    u32 i = 0;
    for (; reply[i] && i < DEDUP_REPLY_MAX - 1; i++)
        e->reply[i] = reply[i];
    e->reply[i] = 0;
    e->seq = seq;
}

void dedup_serve(const struct request *r, int (*apply)(const struct request *r), const char *body)
{
    struct dedup_entry *d;
    switch (dedup_check(r->client, r->seq, &d)) {
    case DEDUP_REPEAT:
        reply(r, d->reply);
        break;
    case DEDUP_STALE:
        reply(r, "ERR stale");
        break;
    case DEDUP_FULL:
        reply(r, "ERR toomanyclients");
        break;
    default:
        if (apply(r))
            dedup_record(d, r->seq, body);
        reply(r, body);
        break;
    }
}
