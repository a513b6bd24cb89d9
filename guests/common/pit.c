/* Channel 0 in mode 2 (rate generator): one IRQ0 every divisor input
 * clocks of the 1.193182 MHz oscillator. */
#include "pit.h"
#include "io.h"

#define PIT_INPUT_HZ 1193182u

u32 pit_init(u32 hz)
{
    if (hz < PIT_HZ_MIN)
        hz = PIT_HZ_MIN;
    if (hz > PIT_HZ_MAX)
        hz = PIT_HZ_MAX;
    u32 divisor = (PIT_INPUT_HZ + hz / 2) / hz;
    outb(0x43, 0x34); /* channel 0, lobyte/hibyte, mode 2, binary */
    outb(0x40, divisor & 0xFF);
    outb(0x40, (divisor >> 8) & 0xFF);
    return hz;
}
