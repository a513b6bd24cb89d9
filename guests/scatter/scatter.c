/* scatter: hot code spread over many 4 KiB pages, for v86's JIT.
 *
 * The main loop, on a page of its own, does most of the work and calls
 * eight short functions, each on a page of its own. v86 compiles at most three pages into one module,
 * so the module for the loop's page holds only some of the callees; which
 * ones depends on the order in which the JIT walks the loop's entry points
 * (a Rust HashSet's order). That decides where compiled blocks end, so
 * where slices end and where timer interrupts land: the IRQ0 handler mixes
 * the loop's progress into a hash, as ticker does. A machine whose JIT
 * state is not canonical at an epoch computes another hash from there.
 *
 * cmdline: hz=N (default 1000), ticks=N (default 100)
 * output:  scatter done hash=xxxxxxxx
 */
#include "../common/boot.h"
#include "../common/cmdline.h"
#include "../common/io.h"
#include "../common/print.h"
#include "../common/ticks.h"

/* A page each: aligned to 4 KiB, never inlined, cloned or merged. */
#define ON_ITS_OWN_PAGE __attribute__((noinline, noipa, aligned(4096)))

static volatile u32 hash = 0x811C9DC5u;
static volatile u32 progress;
static volatile int done;
static u32 total_ticks;

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
    u32 h = mix(hash, progress);
    hash = mix(h, ticks);
    if (ticks >= total_ticks)
        done = 1;
}

/* The callees are short: the loop's page gets hot (and compiled) first. */
#define CALLEE(name, c)                                             \
    static u32 ON_ITS_OWN_PAGE name(u32 x)                          \
    {                                                               \
        return (x ^ (c)) + (x >> 11);                               \
    }

CALLEE(f0, 0x9E3779B1u)
CALLEE(f1, 0x85EBCA6Bu)
CALLEE(f2, 0xC2B2AE35u)
CALLEE(f3, 0x27D4EB2Fu)
CALLEE(f4, 0x165667B1u)
CALLEE(f5, 0x01000193u)
CALLEE(f6, 0x2C1B3C6Du)
CALLEE(f7, 0x297A2D39u)

/* Most of the work is on the loop's page, between the calls. */
#define WORK(x)                                                     \
    for (u32 i = 0; i < 8; i++)                                     \
        x = x * 0x01000193u + (x >> 7)

/* Progress is stored after every call, so where an interrupt lands shows. */
static void ON_ITS_OWN_PAGE scatter(void)
{
    u32 x = 1;
    while (!done) {
        WORK(x); progress = x = f0(x);
        WORK(x); progress = x = f1(x);
        WORK(x); progress = x = f2(x);
        WORK(x); progress = x = f3(x);
        WORK(x); progress = x = f4(x);
        WORK(x); progress = x = f5(x);
        WORK(x); progress = x = f6(x);
        WORK(x); progress = x = f7(x);
    }
}

void guest_main(void)
{
    total_ticks = cmdline_u32("ticks", 100);
    ticks_start(cmdline_u32("hz", 1000), on_tick);
    if (total_ticks == 0)
        done = 1;
    sti();
    scatter();
    cli();
    kprintf("scatter done hash=%x\n", hash);
}
