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

/* Blocking read of one byte; idles with "sti; hlt" while nothing has
 * arrived. Returns with interrupts enabled. */
int serial_getc(void);

/* Read one line (without its "\n"; a "\r" before it is dropped) into buf,
 * NUL-terminated. Bytes past cap-1 are discarded and *truncated is set.
 * Returns the length stored. */
u32 serial_getline(char *buf, u32 cap, int *truncated);

#endif
