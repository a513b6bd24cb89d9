/* Formatted output to the serial port. */
#ifndef GUEST_PRINT_H
#define GUEST_PRINT_H

#include "types.h"

/* A small printf: %s %c %u %x (8 lowercase hex digits, zero-padded) %%.
 * Writes each byte to COM1 as it goes. */
void kprintf(const char *fmt, ...);

#endif
