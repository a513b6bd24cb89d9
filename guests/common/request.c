/* Tokenizing and validating request lines. */
#include "request.h"
#include "print.h"
#include "serial.h"

static char line[REQUEST_LINE_MAX + 1];

int parse_u32(const char *s, u32 len, u32 *out)
{
    u32 v = 0;
    if (len == 0 || len > 10)
        return 0;
    for (u32 i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        u32 d = (u32)(s[i] - '0');
        if (v > (0xFFFFFFFFu - d) / 10)
            return 0;
        v = v * 10 + d;
    }
    *out = v;
    return 1;
}

static int is_sep(char c) { return c == ' ' || c == '\t'; }

int request_read(struct request *r, const char **reason)
{
    int truncated;
    u32 n = serial_getline(line, sizeof(line), &truncated);

    /* Split in place: tok[i] .. tok[i]+len[i]. */
    char *tok[2 + REQUEST_MAX_ARGS + 1];
    u32 len[2 + REQUEST_MAX_ARGS + 1];
    u32 ntok = 0;
    int too_many = 0, bad_char = 0;
    u32 i = 0;
    while (i < n) {
        while (i < n && is_sep(line[i]))
            i++;
        if (i == n)
            break;
        u32 start = i;
        while (i < n && !is_sep(line[i])) {
            if ((u8)line[i] < 0x21 || (u8)line[i] > 0x7E)
                bad_char = 1;
            i++;
        }
        if (ntok < sizeof(tok) / sizeof(tok[0])) {
            tok[ntok] = &line[start];
            len[ntok] = i - start;
            ntok++;
        } else {
            too_many = 1;
        }
        if (i < n)
            line[i++] = 0; /* terminate the token */
    }
    r->client = r->seq = 0;
    r->op = "";
    r->nargs = 0;
    if (ntok == 0 && !truncated)
        return REQUEST_EMPTY;

    u32 client, seq;
    if (ntok < 1 || !parse_u32(tok[0], len[0], &client)) {
        *reason = truncated ? "toolong" : "badclient";
        return REQUEST_ERROR;
    }
    if (ntok < 2 || !parse_u32(tok[1], len[1], &seq)) {
        *reason = truncated ? "toolong" : "badseq";
        return REQUEST_ERROR;
    }
    r->client = client;
    r->seq = seq;
    if (truncated) {
        *reason = "toolong";
        return REQUEST_ERROR;
    }
    if (bad_char) {
        *reason = "badchar";
        return REQUEST_ERROR;
    }
    if (ntok < 3 || too_many || ntok > 2 + 1 + REQUEST_MAX_ARGS) {
        *reason = "badargs";
        return REQUEST_ERROR;
    }
    r->op = tok[2];
    r->nargs = ntok - 3;
    for (u32 k = 0; k < r->nargs; k++) {
        r->args[k] = tok[3 + k];
        r->arglen[k] = len[3 + k];
    }
    return REQUEST_OK;
}

void reply(u32 client, u32 seq, const char *body)
{
    kprintf("%u %u %s\n", client, seq, body);
}
