/* kv: a key/value server on COM1 and, when there is a network card, on
 * UDP port 7070 of 10.0.2.15, after the 6.824 primary/backup lab.
 *
 * requests (one per line)           replies
 *   <client> <seq> PUT <key> <value>     <client> <seq> OK
 *   <client> <seq> APPEND <key> <value>  <client> <seq> OK
 *   <client> <seq> GET <key>             <client> <seq> VALUE <value>
 *                                        <client> <seq> NOKEY
 *   0 0 SHUTDOWN                         kv bye   (and the guest ends)
 * anything wrong: <client> <seq> ERR <reason> (0 0 ERR <reason> when the
 * client or seq cannot be parsed).
 *
 * At-most-once: a request whose seq is the client's last applied one gets
 * the remembered reply again; an older seq gets ERR stale.
 *
 * Over UDP a datagram is one request line and its reply one datagram back
 * to the sender. Both transports share the store and the duplicate table;
 * a reply goes only the way its request came (SHUTDOWN over UDP: "kv bye"
 * by datagram and on COM1).
 */
#include "../common/boot.h"
#include "../common/dedup.h"
#include "../common/io.h"
#include "../common/net.h"
#include "../common/print.h"
#include "../common/request.h"
#include "../common/serial.h"
#include "../common/string.h"
#include "../common/strbuf.h"

#define KEY_MAX 32
#define VALUE_MAX 1024
#define KEYS_MAX 512
#define HASH_SLOTS 1024 /* power of two, > KEYS_MAX */

struct entry {
    u32 keylen, vallen;
    char key[KEY_MAX];
    char value[VALUE_MAX];
};

static struct entry entries[KEYS_MAX];
static u32 nentries;
static u16 slots[HASH_SLOTS]; /* index + 1 into entries; 0 = empty */

static u32 hash(const char *s, u32 n)
{
    u32 h = 0x811C9DC5u;
    for (u32 i = 0; i < n; i++)
        h = (h ^ (u8)s[i]) * 0x01000193u;
    return h;
}

/* The entry for key, or the empty slot where it would go (*slot). */
static struct entry *lookup(const char *key, u32 n, u32 *slot)
{
    u32 i = hash(key, n) & (HASH_SLOTS - 1);
    for (;; i = (i + 1) & (HASH_SLOTS - 1)) {
        if (!slots[i]) {
            *slot = i;
            return NULL;
        }
        struct entry *e = &entries[slots[i] - 1];
        if (e->keylen == n && memcmp(e->key, key, n) == 0)
            return e;
    }
}

static struct entry *insert(const char *key, u32 n, u32 slot)
{
    if (nentries == KEYS_MAX)
        return NULL;
    struct entry *e = &entries[nentries++];
    slots[slot] = (u16)nentries;
    memcpy(e->key, key, n);
    e->keylen = n;
    e->vallen = 0;
    return e;
}

static char body[DEDUP_REPLY_MAX];

/* Apply one request; the reply body goes to body. Returns 0 when the
 * reply is an error (not applied, not remembered). */
static int apply(const struct request *r)
{
    struct strbuf sb;
    sb_init(&sb, body, sizeof(body));
    int put = strcmp(r->op, "PUT") == 0, append = strcmp(r->op, "APPEND") == 0;
    int get = strcmp(r->op, "GET") == 0;
    if (!put && !append && !get) {
        sb_str(&sb, "ERR badop");
        return 0;
    }
    if (r->nargs != (get ? 1u : 2u)) {
        sb_str(&sb, "ERR badargs");
        return 0;
    }
    const char *key = r->args[0];
    u32 keylen = r->arglen[0];
    if (keylen > KEY_MAX) {
        sb_str(&sb, "ERR badkey");
        return 0;
    }
    u32 slot;
    struct entry *e = lookup(key, keylen, &slot);
    if (get) {
        if (e) {
            sb_str(&sb, "VALUE ");
            sb_mem(&sb, e->value, e->vallen);
        } else {
            sb_str(&sb, "NOKEY");
        }
        return 1;
    }
    const char *value = r->args[1];
    u32 vallen = r->arglen[1];
    if (vallen > VALUE_MAX || (append && e && e->vallen + vallen > VALUE_MAX)) {
        sb_str(&sb, "ERR toolong");
        return 0;
    }
    if (!e && !(e = insert(key, keylen, slot))) {
        sb_str(&sb, "ERR full");
        return 0;
    }
    if (put)
        e->vallen = 0;
    memcpy(e->value + e->vallen, value, vallen);
    e->vallen += vallen;
    sb_str(&sb, "OK");
    return 1;
}

void guest_main(void)
{
    serial_enable_rx();
    if (net_init())
        request_set_source(net_poll);
    kprintf("kv ready\n");
    for (;;) {
        struct request r;
        const char *reason;
        int st = request_read(&r, &reason);
        if (st == REQUEST_EMPTY)
            continue;
        if (st == REQUEST_ERROR) {
            reply_error(&r, reason);
            continue;
        }
        if (r.client == 0 && r.seq == 0 && strcmp(r.op, "SHUTDOWN") == 0 && r.nargs == 0) {
            if (r.from != &serial_origin)
                reply_text(&r, "kv bye\n");
            kprintf("kv bye\n");
            return;
        }
        if (r.client == 0) {
            reply(&r, "ERR badclient");
            continue;
        }
        if (r.seq == 0) {
            reply(&r, "ERR badseq");
            continue;
        }
        dedup_serve(&r, apply, body);
    }
}
