/* printf-lite on top of serial_putc. */
#include "print.h"
#include "serial.h"
#include <stdarg.h>

static void put_str(const char *s)
{
    while (*s)
        serial_putc(*s++);
}

static void put_u32(u32 v)
{
    char buf[10];
    int n = 0;
    do {
        buf[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        serial_putc(buf[--n]);
}

static void put_hex32(u32 v)
{
    for (int shift = 28; shift >= 0; shift -= 4)
        serial_putc("0123456789abcdef"[(v >> shift) & 0xF]);
}

void kprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    for (const char *p = fmt; *p; p++) {
        if (*p != '%') {
            serial_putc(*p);
            continue;
        }
        switch (*++p) {
        case 's': put_str(va_arg(ap, const char *)); break;
        case 'c': serial_putc((char)va_arg(ap, int)); break;
        case 'u': put_u32(va_arg(ap, u32)); break;
        case 'x': put_hex32(va_arg(ap, u32)); break;
        case '%': serial_putc('%'); break;
        case 0: p--; break;
        default: serial_putc('%'); serial_putc(*p); break;
        }
    }
    va_end(ap);
}
