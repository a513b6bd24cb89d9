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
 * With alarm=S the guest also sets an RTC alarm S seconds after the RTC's
 * time at start; when its interrupt comes, the tick count is mixed into the
 * hash and printed: the alarm must fire at the same instruction every run.
 *
 * cmdline: hz=N (default 1000), ticks=N (default 2000), every=N (default 100),
 *          alarm=S (default 0: none)
 * output:  ticker tick=<n> hash=xxxxxxxx   (from the timer path)
 *          ticker alarm tick=<n>          (from the RTC alarm, with alarm=S)
 *          ticker done hash=xxxxxxxx      (last line)
 */
#include "../common/boot.h"
#include "../common/cmdline.h"
#include "../common/idt.h"
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

#define CMOS_INDEX 0x70
#define CMOS_DATA 0x71
#define RTC_B_24H 0x02
#define RTC_B_BINARY 0x04
#define RTC_B_ALARM_IRQ 0x20
#define RTC_C_ALARM 0x20

static u8 cmos_read(u8 reg)
{
    outb(CMOS_INDEX, reg);
    return inb(CMOS_DATA);
}

static void cmos_write(u8 reg, u8 value)
{
    outb(CMOS_INDEX, reg);
    outb(CMOS_DATA, value);
}

static volatile int alarm_fired;

static void on_alarm(void)
{
    /* Reading register C acknowledges the interrupt. */
    if (!(cmos_read(0x0C) & RTC_C_ALARM) || alarm_fired || done)
        return;
    alarm_fired = 1;
    u32 n = ticks;
    hash = mix(hash, n);
    kprintf("ticker alarm tick=%u\n", n);
}

/* An RTC alarm `seconds` after the RTC's time now (binary, 24-hour). */
static void set_alarm(u32 seconds)
{
    cmos_write(0x0B, RTC_B_24H | RTC_B_BINARY);
    u32 now = cmos_read(0x04) * 3600u + cmos_read(0x02) * 60u + cmos_read(0x00);
    u32 at = (now + seconds) % 86400u;
    cmos_write(0x01, (u8)(at % 60));
    cmos_write(0x03, (u8)(at / 60 % 60));
    cmos_write(0x05, (u8)(at / 3600));
    irq_install(8, on_alarm);
    cmos_write(0x0B, RTC_B_24H | RTC_B_BINARY | RTC_B_ALARM_IRQ);
}

void guest_main(void)
{
    total_ticks = cmdline_u32("ticks", 2000);
    every = cmdline_u32("every", 100);
    ticks_start(cmdline_u32("hz", 1000), on_tick);
    u32 alarm = cmdline_u32("alarm", 0);
    if (alarm)
        set_alarm(alarm);
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
