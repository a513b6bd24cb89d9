/* Programmable interval timer, channel 0 (IRQ0). */
#ifndef GUEST_PIT_H
#define GUEST_PIT_H

#include "types.h"

#define PIT_HZ_MIN 19    /* the 16-bit divisor cannot go slower */
#define PIT_HZ_MAX 10000

/* Clamp hz to [PIT_HZ_MIN, PIT_HZ_MAX], program channel 0 as a periodic
 * rate generator at that rate and return the value used. */
u32 pit_init(u32 hz);

#endif
