/* Appends stop at cap-1 bytes and set overflow. */
#include "strbuf.h"

void sb_init(struct strbuf *sb, char *buf, u32 cap)
{
    sb->buf = buf;
    sb->len = 0;
    sb->cap = cap;
    sb->overflow = 0;
    buf[0] = 0;
}

void sb_mem(struct strbuf *sb, const char *s, u32 n)
{
    for (u32 i = 0; i < n; i++) {
        if (sb->len + 1 >= sb->cap) {
            sb->overflow = 1;
            break;
        }
        sb->buf[sb->len++] = s[i];
    }
    sb->buf[sb->len] = 0;
}

void sb_str(struct strbuf *sb, const char *s)
{
    while (*s)
        sb_mem(sb, s++, 1);
}

void sb_u32(struct strbuf *sb, u32 v)
{
    char tmp[10];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        sb_mem(sb, &tmp[--n], 1);
}
