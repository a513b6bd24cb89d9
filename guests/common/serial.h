/* COM1 (0x3F8): polled output, interrupt-driven input (IRQ4). */
#ifndef GUEST_SERIAL_H
#define GUEST_SERIAL_H

#include "types.h"

/* Set up the UART (8N1, receive-data interrupt on). Does not unmask IRQ4:
 * call serial_enable_rx() for guests that read input. */
void serial_init(void);
void serial_enable_rx(void);

void serial_putc(char c);
void serial_write(const char *s, u32 n);

/* The next received byte, or -1 when none is waiting. Call with
 * interrupts disabled; a byte that arrives later raises IRQ4 (and so ends
 * a "sti; hlt"). */
int serial_poll(void);

#endif
