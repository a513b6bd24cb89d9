/* spin: CPU-bound integer work, the speed benchmark.
 *
 * A 32-bit mixing loop with a load and a store into a 4 KiB table on
 * every step. The PIT runs (hz=, default 100) and its interrupts are
 * counted, but the result does not depend on them.
 *
 * cmdline: iterations=N (default 12500000, about 200 M instructions),
 *          hz=N (default 100)
 * output:  spin checksum=xxxxxxxx iterations=N
 */
#include "../common/boot.h"
#include "../common/cmdline.h"
#include "../common/io.h"
#include "../common/print.h"
#include "../common/ticks.h"

#define TABLE_WORDS 1024

static u32 table[TABLE_WORDS];

static u32 spin(u32 iterations)
{
    for (u32 i = 0; i < TABLE_WORDS; i++)
        table[i] = i * 0x01000193u + 0x811C9DC5u;
    u32 x = 0x9E3779B9u;
    for (u32 i = 0; i < iterations; i++) {
        u32 idx = x >> 22;
        u32 a = table[idx];
        x = (x ^ a) * 0x85EBCA6Bu;
        x ^= x >> 13;
        x += i;
        table[idx] = a + (x << 7 | x >> 25);
    }
    u32 sum = x;
    for (u32 i = 0; i < TABLE_WORDS; i++)
        sum = (sum ^ table[i]) * 0x01000193u;
    return sum;
}

void guest_main(void)
{
    u32 iterations = cmdline_u32("iterations", 12500000);
    ticks_start(cmdline_u32("hz", 100), NULL);
    sti();
    u32 sum = spin(iterations);
    cli();
    kprintf("spin checksum=%x iterations=%u\n", sum, iterations);
}
