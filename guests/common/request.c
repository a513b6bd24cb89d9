/* Assembling, tokenizing and validating request lines, and sending the
 * replies. A serial line is assembled across wakeups in its own buffer
 * (bytes may trickle in while a datagram is served); a datagram is copied
 * into another with the same length and "\r" rules, so both transports
 * parse alike. */
#include "request.h"
#include "io.h"
#include "serial.h"
#include "strbuf.h"
#include "string.h"

/* Longest reply line: two u32s, two spaces, the longest body, "\n". */
#define REPLY_LINE_MAX (10 + 1 + 10 + 1 + 1100 + 1)

struct line {
    char buf[REQUEST_LINE_MAX + 1];
    u32 len;
    int truncated; /* bytes past REQUEST_LINE_MAX were discarded */
};

static struct line serial_line, source_line;
static int serial_line_done; /* serial_line was handed out: start afresh */
static request_source source;

static void line_reset(struct line *l)
{
    l->len = 0;
    l->truncated = 0;
}

static void line_put(struct line *l, char c)
{
    if (l->len < REQUEST_LINE_MAX)
        l->buf[l->len++] = c;
    else
        l->truncated = 1;
}

/* The line is complete: a "\r" before its "\n" is dropped. */
static void line_end(struct line *l)
{
    if (l->len > 0 && l->buf[l->len - 1] == '\r' && !l->truncated)
        l->len--;
    l->buf[l->len] = 0;
}

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

/* Tokenize l in place (the tokens stay valid until l is reused). */
static int parse(struct line *l, struct request *r, const char **reason)
{
    char *line = l->buf;
    u32 n = l->len;
    int truncated = l->truncated;

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

void request_set_source(request_source poll) { source = poll; }

/* With interrupts disabled: move received serial bytes into serial_line;
 * 1 when it holds a whole line. */
static int serial_line_ready(void)
{
    if (serial_line_done) {
        line_reset(&serial_line);
        serial_line_done = 0;
    }
    int c;
    while ((c = serial_poll()) >= 0) {
        if (c == '\n') {
            line_end(&serial_line);
            serial_line_done = 1;
            return 1;
        }
        line_put(&serial_line, (char)c);
    }
    return 0;
}

int request_read(struct request *r, const char **reason)
{
    const char *data;
    u32 n;
    for (;;) {
        /* Checked with interrupts off: anything arriving after the check
         * interrupts the hlt (sti takes effect after the next instruction). */
        cli();
        if (serial_line_ready()) {
            sti();
            r->from = &serial_origin;
            return parse(&serial_line, r, reason);
        }
        if (source && source(&data, &n, &r->from)) {
            sti();
            if (n > 0 && data[n - 1] == '\n')
                n--;
            line_reset(&source_line);
            for (u32 i = 0; i < n; i++)
                line_put(&source_line, data[i]);
            line_end(&source_line);
            return parse(&source_line, r, reason);
        }
        sti_hlt();
    }
}

static void serial_send(const struct origin *self, const char *line, u32 len)
{
    (void)self;
    serial_write(line, len);
}

const struct origin serial_origin = {serial_send};

static void send_line(const struct request *r, const char *a, const char *b)
{
    static char buf[REPLY_LINE_MAX + 1];
    struct strbuf sb;
    sb_init(&sb, buf, sizeof(buf));
    sb_u32(&sb, r->client);
    sb_str(&sb, " ");
    sb_u32(&sb, r->seq);
    sb_str(&sb, " ");
    sb_str(&sb, a);
    sb_str(&sb, b);
    sb_str(&sb, "\n");
    r->from->send(r->from, sb.buf, sb.len);
}

void reply(const struct request *r, const char *body) { send_line(r, body, ""); }

void reply_error(const struct request *r, const char *reason) { send_line(r, "ERR ", reason); }

void reply_text(const struct request *r, const char *text)
{
    r->from->send(r->from, text, strlen(text));
}
