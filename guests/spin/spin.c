/* spin: CPU-bound integer work, the speed benchmark.
 *
 * A 32-bit mixing loop with a load and a store into a 4 KiB table on
 * every step. The PIT runs (hz=, default 100) and its interrupts are
 * counted, but the result does not depend on them. pages=N spreads the
 * table over N pages (a power of two up to 4096), so that the loop writes
 * many pages: the memory-writing workload of checkpoint replication.
 *
 * cmdline: iterations=N (default 12500000, about 200 M instructions),
 *          hz=N (default 100), pages=N (default 1)
 * output:  spin checksum=xxxxxxxx iterations=N
 */
#include "../common/boot.h"
#include "../common/cmdline.h"
#include "../common/io.h"
#include "../common/print.h"
#include "../common/ticks.h"

#define PAGE_WORDS 1024
#define MAX_PAGE_BITS 12
/* A table of more than one page lives at 8 MiB, above the kernel and inside the
 * 32 MiB machine, so that the image and its .bss stay as small as before. */
#define BIG_TABLE ((u32 *)0x800000)

static u32 page_table[PAGE_WORDS];

static u32 spin(u32 iterations, u32 page_bits)
{
    u32 *table = page_bits ? BIG_TABLE : page_table;
    u32 words = PAGE_WORDS << page_bits;
    u32 shift = 22 - page_bits;
    for (u32 i = 0; i < words; i++)
        table[i] = i * 0x01000193u + 0x811C9DC5u;
    u32 x = 0x9E3779B9u;
    for (u32 i = 0; i < iterations; i++) {
        u32 idx = x >> shift;
        u32 a = table[idx];
        x = (x ^ a) * 0x85EBCA6Bu;
        x ^= x >> 13;
        x += i;
        table[idx] = a + (x << 7 | x >> 25);
    }
    u32 sum = x;
    for (u32 i = 0; i < words; i++)
        sum = (sum ^ table[i]) * 0x01000193u;
    return sum;
}

/* log2 of pages=N; an N that is not a power of two up to 4096 means the default, 1. */
static u32 page_bits(u32 pages)
{
    for (u32 bits = 0; bits <= MAX_PAGE_BITS; bits++)
        if (pages == 1u << bits)
            return bits;
    return 0;
}

void guest_main(void)
{
    u32 iterations = cmdline_u32("iterations", 12500000);
    u32 bits = page_bits(cmdline_u32("pages", 1));
    ticks_start(cmdline_u32("hz", 100), NULL);
    sti();
    u32 sum = spin(iterations, bits);
    cli();
    kprintf("spin checksum=%x iterations=%u\n", sum, iterations);
}
