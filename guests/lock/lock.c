/* lock: a lock server with leases that expire after a guest-time timeout
 * counted in PIT ticks.
 *
 * requests (one per line)               replies
 *   <client> <seq> ACQUIRE <name> <ms>   <client> <seq> GRANTED <name>
 *                                        <client> <seq> BUSY <name> <holder>
 *   <client> <seq> RELEASE <name>        <client> <seq> RELEASED <name>
 *                                        <client> <seq> ERR notheld
 *   0 0 SHUTDOWN                         lock bye   (and the guest ends)
 * from the timer interrupt, when a lease runs out:
 *   EXPIRED <name> <holder> tick=<tick>
 *
 * ACQUIRE by the current holder renews the lease. A lease of ms
 * milliseconds granted at tick t expires at the interrupt that makes the
 * tick count t + ceil(ms * hz / 1000). Requests are handled with
 * interrupts disabled, so each one happens entirely before or after a
 * given timer interrupt and its EXPIRED lines.
 *
 * cmdline: hz=N (PIT rate, default 100)
 */
#include "../common/boot.h"
#include "../common/cmdline.h"
#include "../common/dedup.h"
#include "../common/io.h"
#include "../common/print.h"
#include "../common/request.h"
#include "../common/serial.h"
#include "../common/string.h"
#include "../common/strbuf.h"
#include "../common/ticks.h"

#define NAME_MAX 32
#define LOCKS_MAX 256
#define MS_MAX 86400000u /* one day */

struct lock {
    u32 namelen;
    char name[NAME_MAX + 1];
    int held;
    u32 holder;
    u32 expiry; /* tick at which the lease ends */
};

static struct lock locks[LOCKS_MAX];
static u32 nlocks;
static u32 nheld;
static u32 hz;

static struct lock *find(const char *name, u32 n, int create)
{
    for (u32 i = 0; i < nlocks; i++)
        if (locks[i].namelen == n && memcmp(locks[i].name, name, n) == 0)
            return &locks[i];
    if (!create || nlocks == LOCKS_MAX)
        return NULL;
    struct lock *l = &locks[nlocks++];
    memcpy(l->name, name, n);
    l->name[n] = 0;
    l->namelen = n;
    l->held = 0;
    return l;
}

/* Timer path: end the leases that ran out. */
static void on_tick(void)
{
    if (!nheld)
        return;
    u32 now = ticks;
    for (u32 i = 0; i < nlocks; i++) {
        struct lock *l = &locks[i];
        if (l->held && (s32)(now - l->expiry) >= 0) {
            l->held = 0;
            nheld--;
            kprintf("EXPIRED %s %u tick=%u\n", l->name, l->holder, now);
        }
    }
}

static u32 ms_to_ticks(u32 ms)
{
    u32 t = ms / 1000 * hz + ((ms % 1000) * hz + 999) / 1000;
    return t ? t : 1;
}

static char body[DEDUP_REPLY_MAX];

/* Apply one request (interrupts disabled); reply body goes to body.
 * Returns 0 when the reply is an error that was not applied. */
static int apply(const struct request *r)
{
    struct strbuf sb;
    sb_init(&sb, body, sizeof(body));
    int acquire = strcmp(r->op, "ACQUIRE") == 0, release = strcmp(r->op, "RELEASE") == 0;
    if (!acquire && !release) {
        sb_str(&sb, "ERR badop");
        return 0;
    }
    if (r->nargs != (acquire ? 2u : 1u)) {
        sb_str(&sb, "ERR badargs");
        return 0;
    }
    const char *name = r->args[0];
    u32 n = r->arglen[0];
    if (n > NAME_MAX) {
        sb_str(&sb, "ERR badname");
        return 0;
    }
    if (release) {
        struct lock *l = find(name, n, 0);
        if (!l || !l->held || l->holder != r->client) {
            sb_str(&sb, "ERR notheld");
            return 1; /* a definite answer: remembered like any other */
        }
        l->held = 0;
        nheld--;
        sb_str(&sb, "RELEASED ");
        sb_str(&sb, l->name);
        return 1;
    }
    u32 ms;
    if (!parse_u32(r->args[1], r->arglen[1], &ms) || ms == 0 || ms > MS_MAX) {
        sb_str(&sb, "ERR badms");
        return 0;
    }
    struct lock *l = find(name, n, 1);
    if (!l) {
        sb_str(&sb, "ERR full");
        return 0;
    }
    if (l->held && l->holder != r->client) {
        sb_str(&sb, "BUSY ");
        sb_str(&sb, l->name);
        sb_str(&sb, " ");
        sb_u32(&sb, l->holder);
        return 1;
    }
    if (!l->held)
        nheld++;
    l->held = 1;
    l->holder = r->client;
    l->expiry = ticks + ms_to_ticks(ms);
    sb_str(&sb, "GRANTED ");
    sb_str(&sb, l->name);
    return 1;
}

void guest_main(void)
{
    hz = ticks_start(cmdline_u32("hz", 100), on_tick);
    serial_enable_rx();
    kprintf("lock ready hz=%u\n", hz);
    for (;;) {
        struct request r;
        const char *reason;
        int st = request_read(&r, &reason); /* returns with interrupts on */
        if (st == REQUEST_EMPTY)
            continue;
        cli();
        if (st == REQUEST_ERROR) {
            reply_error(&r, reason);
        } else if (r.client == 0 && r.seq == 0 && strcmp(r.op, "SHUTDOWN") == 0 &&
                   r.nargs == 0) {
            kprintf("lock bye\n");
            return;
        } else if (r.client == 0) {
            reply(&r, "ERR badclient");
        } else if (r.seq == 0) {
            reply(&r, "ERR badseq");
        } else {
            dedup_serve(&r, apply, body);
        }
        sti();
    }
}
