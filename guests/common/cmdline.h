/* key=value arguments from the multiboot command line. */
#ifndef GUEST_CMDLINE_H
#define GUEST_CMDLINE_H

#include "types.h"

#define CMDLINE_MAX 512

/* Copy the command line out of the multiboot info (flags bit 2). */
void cmdline_init(u32 magic, const void *mbi);

/* The value of "key=<decimal>" if present and valid (0..4294967295),
 * else def. Words without '=' (such as a kernel path) are ignored; the
 * last occurrence of a key wins. */
u32 cmdline_u32(const char *key, u32 def);

#endif
