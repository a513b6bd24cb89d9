/* The command line is copied into the guest's own memory at boot: the
 * loader leaves it in low memory next to the multiboot info. */
#include "cmdline.h"

#define MULTIBOOT_LOADER_MAGIC 0x2BADB002u
#define MULTIBOOT_INFO_CMDLINE 0x4u

static char cmdline[CMDLINE_MAX];

void cmdline_init(u32 magic, const void *mbi)
{
    const u32 *info = mbi;
    cmdline[0] = 0;
    if (magic != MULTIBOOT_LOADER_MAGIC || !info || !(info[0] & MULTIBOOT_INFO_CMDLINE))
        return;
    const char *src = (const char *)info[4];
    u32 n = 0;
    while (src[n] && n < CMDLINE_MAX - 1) {
        cmdline[n] = src[n];
        n++;
    }
    cmdline[n] = 0;
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static int parse_u32(const char *s, const char *end, u32 *out)
{
    u32 v = 0;
    if (s == end)
        return 0;
    for (; s < end; s++) {
        if (*s < '0' || *s > '9')
            return 0;
        u32 d = (u32)(*s - '0');
        if (v > (0xFFFFFFFFu - d) / 10)
            return 0;
        v = v * 10 + d;
    }
    *out = v;
    return 1;
}

u32 cmdline_u32(const char *key, u32 def)
{
    u32 result = def;
    const char *p = cmdline;
    while (*p) {
        while (is_space(*p))
            p++;
        const char *word = p;
        while (*p && !is_space(*p))
            p++;
        const char *k = key, *w = word;
        while (*k && w < p && *w == *k)
            w++, k++;
        u32 v;
        if (!*k && w < p && *w == '=' && parse_u32(w + 1, p, &v))
            result = v;
    }
    return result;
}
