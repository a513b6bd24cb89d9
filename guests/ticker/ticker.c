/* ticker: the determinism torture test. Its output depends on exactly
 * where timer interrupts land in the instruction stream.
 *
 * The IRQ0 handler mixes the TSC, the tick count and a busy counter that
 * the main loop is incrementing into a running hash. The main loop
 * alternates busy counting, for lengths taken from the hash, with HLT
 * waits, and mixes in TSC readings of its own. Every `every` ticks the
 * timer path prints the hash; after `ticks` ticks the hash is frozen and
 * the main loop prints it and ends.
 *
 * cmdline: hz=N (default 1000), ticks=N (default 2000), every=N (default 100)
 * output:  ticker tick=<n> hash=xxxxxxxx   (from the timer path)
 *          ticker done hash=xxxxxxxx      (last line)
 */
#include "../common/boot.h"
#include "../common/cmdline.h"
#include "../common/io.h"
#include "../common/print.h"
#include "../common/ticks.h"

static volatile u32 hash = 0x811C9DC5u;
static volatile u32 busy;
static volatile int done;
static u32 total_ticks, every;

static u32 mix(u32 h, u32 v)
{
    h ^= v;
    h *= 0x01000193u;
    h ^= h >> 15;
    h *= 0x2C1B3C6Du;
    h ^= h >> 12;
    return h;
}

static void on_tick(void)
{
    if (done)
        return;
    u64 tsc = rdtsc();
    u32 n = ticks;
    u32 h = hash;
    h = mix(h, (u32)tsc);
    h = mix(h, (u32)(tsc >> 32));
    h = mix(h, n);
    h = mix(h, busy);
    hash = h;
    if (every && n % every == 0)
        kprintf("ticker tick=%u hash=%x\n", n, h);
    if (n >= total_ticks)
        done = 1;
}

/* Count busy up by n, one memory increment per step, so the interrupt
 * handler sees how far it got. */
static void busy_count(u32 n)
{
    if (!n)
        return;
    __asm__ volatile("1: incl %0\n\t"
                     "decl %1\n\t"
                     "jnz 1b"
                     : "+m"(busy), "+r"(n)
                     :
                     : "cc");
}

void guest_main(void)
{
    total_ticks = cmdline_u32("ticks", 2000);
    every = cmdline_u32("every", 100);
    ticks_start(cmdline_u32("hz", 1000), on_tick);
    if (total_ticks == 0)
        done = 1;
    sti();
    while (!done) {
        u32 h = hash;
        /* Mostly short runs, one in 16 long enough to span ticks. */
        u32 len = (h >> 4) & 0x3FFF;
        if (((h >> 24) & 15) == 0)
            len = (h >> 4) & 0x3FFFF;
        busy_count(len);
        u64 tsc = rdtsc();
        cli();
        if (!done)
            hash = mix(mix(hash, (u32)tsc), busy);
        if (done)
            break;
        sti_hlt();
    }
    cli();
    kprintf("ticker done hash=%x\n", hash);
}
