/* IRQ0 handler: count, then run the guest's hook. */
#include "ticks.h"
#include "idt.h"
#include "pit.h"

volatile u32 ticks;
static void (*tick_hook)(void);

static void tick_irq(void)
{
    ticks++;
    if (tick_hook)
        tick_hook();
}

u32 ticks_start(u32 hz, void (*hook)(void))
{
    tick_hook = hook;
    hz = pit_init(hz);
    irq_install(0, tick_irq);
    return hz;
}
