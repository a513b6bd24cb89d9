/* Building a reply in a fixed buffer. */
#ifndef GUEST_STRBUF_H
#define GUEST_STRBUF_H

#include "types.h"

struct strbuf {
    char *buf;
    u32 len, cap; /* len excludes the NUL; cap includes room for it */
    int overflow;
};

void sb_init(struct strbuf *sb, char *buf, u32 cap);
void sb_str(struct strbuf *sb, const char *s);
void sb_mem(struct strbuf *sb, const char *s, u32 n);
void sb_u32(struct strbuf *sb, u32 v);

#endif
