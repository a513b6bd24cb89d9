/* A PIT-driven tick counter with an optional per-tick hook. */
#ifndef GUEST_TICKS_H
#define GUEST_TICKS_H

#include "types.h"

/* Number of IRQ0s handled so far (wraps at 2^32). */
extern volatile u32 ticks;

/* Program the PIT at hz (clamped, see pit.h), count its interrupts and
 * call hook (may be NULL) from the interrupt path after each increment.
 * Returns the rate used. Interrupts stay disabled until the caller
 * enables them. */
u32 ticks_start(u32 hz, void (*hook)(void));

#endif
