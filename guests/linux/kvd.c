/* kvd: the kv guest's server (guests/kv/kv.c) as a Linux program, for the
 * linux guest: the same request protocol, replies, store limits and
 * at-most-once table (guests/README.md, "kv and lock: the request protocol"),
 * on the serial console (/dev/ttyS0, raw) and on UDP port 7070 of eth0.
 *
 *   <client> <seq> PUT <key> <value>     <client> <seq> OK
 *   <client> <seq> APPEND <key> <value>  <client> <seq> OK
 *   <client> <seq> GET <key>             <client> <seq> VALUE <value> | NOKEY
 *   0 0 SHUTDOWN                         kv bye   (and kvd exits 0)
 *
 * The network side works on Ethernet frames like kv.elf's, not through a
 * UDP socket: a packet socket sees each IPv4 frame with its source MAC,
 * and the reply is built here (IPv4 without options, id 0, DF, TTL 64,
 * checksums computed) and sent back to that MAC. Several clients share the
 * IP 10.0.2.2 with a MAC each (src/ft/workload/client.ts), which the
 * kernel's neighbour table could not tell apart. The kernel still answers
 * ARP for 10.0.2.15 (init gives eth0 the address). A UDP socket bound to
 * the port keeps the kernel from answering datagrams with ICMP "port
 * unreachable"; what it receives is thrown away.
 *
 * With a journal (kvd FILE: init gives it one on the disk, when the guest
 * has one), every PUT and APPEND that changed the store is appended to FILE
 * as its request line and fsync'ed before the reply goes out, and FILE is
 * applied at start: the data outlives the guest's memory. Without, kvd
 * keeps its data in memory only, as before.
 *
 * Deterministic: no clocks, no randomness, no allocation; requests are
 * served in the order poll() reports them (serial before network when both
 * are ready, as kv.elf checks them).
 *
 * Build: gcc -m32 -static -O2 -o kvd kvd.c (guests/linux/build.sh).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;

#define TTY "/dev/ttyS0"
#define IFACE "eth0"
#define UDP_PORT 7070
static const u8 my_ip[4] = {10, 0, 2, 15};

/* ---- the store (kv.c) ---- */

#define KEY_MAX 32
#define VALUE_MAX 1024
#define KEYS_MAX 512
#define HASH_SLOTS 1024 /* power of two, > KEYS_MAX */

struct entry {
    u32 keylen, vallen;
    char key[KEY_MAX];
    char value[VALUE_MAX];
};

static struct entry entries[KEYS_MAX];
static u32 nentries;
static u16 slots[HASH_SLOTS]; /* index + 1 into entries; 0 = empty */

static u32 hash(const char *s, u32 n)
{
    u32 h = 0x811C9DC5u;
    for (u32 i = 0; i < n; i++)
        h = (h ^ (u8)s[i]) * 0x01000193u;
    return h;
}

static struct entry *lookup(const char *key, u32 n, u32 *slot)
{
    u32 i = hash(key, n) & (HASH_SLOTS - 1);
    for (;; i = (i + 1) & (HASH_SLOTS - 1)) {
        if (!slots[i]) {
            *slot = i;
            return NULL;
        }
        struct entry *e = &entries[slots[i] - 1];
        if (e->keylen == n && memcmp(e->key, key, n) == 0)
            return e;
    }
}

static struct entry *insert(const char *key, u32 n, u32 slot)
{
    if (nentries == KEYS_MAX)
        return NULL;
    struct entry *e = &entries[nentries++];
    slots[slot] = (u16)nentries;
    memcpy(e->key, key, n);
    e->keylen = n;
    e->vallen = 0;
    return e;
}

/* ---- requests (request.c) ---- */

#define REQUEST_LINE_MAX 1100 /* bytes in a request line, without "\n" */
#define REQUEST_MAX_ARGS 4
#define REPLY_MAX 1100        /* a reply body, as remembered (dedup.h) */
#define REPLY_LINE_MAX (10 + 1 + 10 + 1 + 1100 + 1)

/* Where a request came from, and so where its reply goes. */
struct origin {
    int net;       /* 0: serial */
    u8 mac[6];     /* net: the sender */
    u8 ip[4];
    u16 port;
};

struct request {
    u32 client, seq;
    const char *op;
    u32 nargs;
    const char *args[REQUEST_MAX_ARGS];
    u32 arglen[REQUEST_MAX_ARGS];
    const struct origin *from;
};

enum { REQUEST_OK, REQUEST_EMPTY, REQUEST_ERROR };

struct line {
    char buf[REQUEST_LINE_MAX + 1];
    u32 len;
    int truncated;
};

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

static void line_end(struct line *l)
{
    if (l->len > 0 && l->buf[l->len - 1] == '\r' && !l->truncated)
        l->len--;
    l->buf[l->len] = 0;
}

static int parse_u32(const char *s, u32 len, u32 *out)
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

static int parse(struct line *l, struct request *r, const char **reason)
{
    char *line = l->buf;
    u32 n = l->len;
    int truncated = l->truncated;
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
            line[i++] = 0;
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

/* ---- output ---- */

static int tty = -1, pkt = -1, udp = -1, ifindex;
static u8 my_mac[6];

static void die(const char *what)
{
    fprintf(stderr, "kvd: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void serial_write(const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(tty, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            die("write " TTY);
        }
        p += w;
        n -= (size_t)w;
    }
}

#define ETH_HDR 14
#define IP_HDR 20
#define UDP_HDR 8
#define ETH_FRAME_MAX 1514
#define IP_UDP 17
#define IP_DONT_FRAGMENT 0x4000
#define IP_FRAGMENT 0x3FFF
#define TTL_REPLY 64

static u16 get16(const u8 *p) { return (u16)(p[0] << 8 | p[1]); }

static void put16(u8 *p, u32 v)
{
    p[0] = (u8)(v >> 8);
    p[1] = (u8)v;
}

static u32 sum16(const u8 *p, u32 n, u32 sum)
{
    for (u32 i = 0; i + 1 < n; i += 2)
        sum += (u32)(p[i] << 8 | p[i + 1]);
    if (n & 1)
        sum += (u32)p[n - 1] << 8;
    return sum;
}

static u16 fold(u32 sum)
{
    while (sum >> 16)
        sum = (sum & 0xFFFF) + (sum >> 16);
    return (u16)~sum;
}

static u16 udp_sum(const u8 *src, const u8 *dst, const u8 *seg, u32 n)
{
    u32 sum = sum16(src, 4, 0);
    sum = sum16(dst, 4, sum);
    sum += IP_UDP + n;
    return fold(sum16(seg, n, sum));
}

/* One datagram to the peer, from 10.0.2.15:7070, as net.c builds it. */
static void net_send(const struct origin *p, const char *line, u32 len)
{
    static u8 tx[ETH_FRAME_MAX];
    if (len > ETH_FRAME_MAX - ETH_HDR - IP_HDR - UDP_HDR)
        len = ETH_FRAME_MAX - ETH_HDR - IP_HDR - UDP_HDR;
    u8 *ip = tx + ETH_HDR, *u = ip + IP_HDR;
    memcpy(tx, p->mac, 6);
    memcpy(tx + 6, my_mac, 6);
    put16(tx + 12, ETHERTYPE_IP);
    ip[0] = 0x45;
    ip[1] = 0;
    put16(ip + 2, IP_HDR + UDP_HDR + len);
    put16(ip + 4, 0);
    put16(ip + 6, IP_DONT_FRAGMENT);
    ip[8] = TTL_REPLY;
    ip[9] = IP_UDP;
    put16(ip + 10, 0);
    memcpy(ip + 12, my_ip, 4);
    memcpy(ip + 16, p->ip, 4);
    put16(ip + 10, fold(sum16(ip, IP_HDR, 0)));
    put16(u, UDP_PORT);
    put16(u + 2, p->port);
    put16(u + 4, UDP_HDR + len);
    put16(u + 6, 0);
    memcpy(u + UDP_HDR, line, len);
    u16 sum = udp_sum(my_ip, p->ip, u, UDP_HDR + len);
    put16(u + 6, sum ? sum : 0xFFFF);
    struct sockaddr_ll to = {0};
    to.sll_family = AF_PACKET;
    to.sll_ifindex = ifindex;
    to.sll_halen = 6;
    memcpy(to.sll_addr, p->mac, 6);
    while (sendto(pkt, tx, ETH_HDR + IP_HDR + UDP_HDR + len, 0, (struct sockaddr *)&to, sizeof(to)) < 0) {
        if (errno != EINTR && errno != ENOBUFS && errno != EAGAIN)
            die("send a reply frame");
    }
}

static void send_to(const struct origin *o, const char *text, u32 len)
{
    if (o->net)
        net_send(o, text, len);
    else
        serial_write(text, len);
}

/* "<client> <seq> <a><b>\n" to where r came from. */
static void send_line(const struct request *r, const char *a, const char *b)
{
    static char buf[REPLY_LINE_MAX + 64];
    int n = snprintf(buf, sizeof(buf), "%u %u %s%s\n", r->client, r->seq, a, b);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(buf))
        n = sizeof(buf) - 1;
    send_to(r->from, buf, (u32)n);
}

static void reply(const struct request *r, const char *body) { send_line(r, body, ""); }
static void reply_error(const struct request *r, const char *reason) { send_line(r, "ERR ", reason); }

/* ---- at-most-once (dedup.c) ---- */

#define DEDUP_CLIENTS 128

struct dedup_entry {
    u32 client;
    u32 seq; /* highest applied; 0 = none yet */
    char reply[REPLY_MAX];
};

static struct dedup_entry table[DEDUP_CLIENTS];
static u32 used;

enum { DEDUP_NEW, DEDUP_REPEAT, DEDUP_STALE, DEDUP_FULL };

static int dedup_check(u32 client, u32 seq, struct dedup_entry **entry)
{
    struct dedup_entry *e = NULL;
    for (u32 i = 0; i < used; i++) {
        if (table[i].client == client) {
            e = &table[i];
            break;
        }
    }
    if (!e) {
        if (used == DEDUP_CLIENTS)
            return DEDUP_FULL;
        e = &table[used++];
        e->client = client;
        e->seq = 0;
        e->reply[0] = 0;
    }
    *entry = e;
    if (e->seq != 0 && seq == e->seq)
        return DEDUP_REPEAT;
    if (seq < e->seq)
        return DEDUP_STALE;
    return DEDUP_NEW;
}

static void dedup_record(struct dedup_entry *e, u32 seq, const char *body)
{
    u32 i = 0;
    for (; body[i] && i < REPLY_MAX - 1; i++)
        e->reply[i] = body[i];
    e->reply[i] = 0;
    e->seq = seq;
}

/* ---- kv (kv.c) ---- */

static char body[REPLY_MAX];

/* Apply one request; its reply body goes to body. 0 when the reply is an
 * error (not applied, not remembered). */
static int apply(const struct request *r)
{
    int put = strcmp(r->op, "PUT") == 0, append = strcmp(r->op, "APPEND") == 0;
    int get = strcmp(r->op, "GET") == 0;
    body[0] = 0;
    if (!put && !append && !get) {
        strcpy(body, "ERR badop");
        return 0;
    }
    if (r->nargs != (get ? 1u : 2u)) {
        strcpy(body, "ERR badargs");
        return 0;
    }
    const char *key = r->args[0];
    u32 keylen = r->arglen[0];
    if (keylen > KEY_MAX) {
        strcpy(body, "ERR badkey");
        return 0;
    }
    u32 slot;
    struct entry *e = lookup(key, keylen, &slot);
    if (get) {
        if (e) {
            /* "VALUE " + up to 1024 bytes fits (the guest's strbuf cuts at
             * REPLY_MAX - 1 the same way). */
            u32 n = e->vallen;
            if (n > REPLY_MAX - 1 - 6)
                n = REPLY_MAX - 1 - 6;
            memcpy(body, "VALUE ", 6);
            memcpy(body + 6, e->value, n);
            body[6 + n] = 0;
        } else {
            strcpy(body, "NOKEY");
        }
        return 1;
    }
    const char *value = r->args[1];
    u32 vallen = r->arglen[1];
    if (vallen > VALUE_MAX || (append && e && e->vallen + vallen > VALUE_MAX)) {
        strcpy(body, "ERR toolong");
        return 0;
    }
    if (!e && !(e = insert(key, keylen, slot))) {
        strcpy(body, "ERR full");
        return 0;
    }
    if (put)
        e->vallen = 0;
    memcpy(e->value + e->vallen, value, vallen);
    e->vallen += vallen;
    strcpy(body, "OK");
    return 1;
}

/* ---- the journal ---- */

static int journal = -1;

/* A request that changed the store, durably on the journal before its reply. */
static void journal_append(const char *line, u32 len)
{
    static char buf[REQUEST_LINE_MAX + 1];
    if (journal < 0)
        return;
    memcpy(buf, line, len);
    buf[len] = '\n';
    if (write(journal, buf, len + 1) != (ssize_t)(len + 1) || fsync(journal) < 0)
        die("write the journal");
}

static void serve_line(struct line *l, const struct origin *from)
{
    struct request r;
    const char *reason;
    static char raw[REQUEST_LINE_MAX + 1];
    u32 rawlen = l->len;
    memcpy(raw, l->buf, rawlen);
    r.from = from;
    int st = parse(l, &r, &reason);
    if (st == REQUEST_EMPTY)
        return;
    if (st == REQUEST_ERROR) {
        reply_error(&r, reason);
        return;
    }
    if (r.client == 0 && r.seq == 0 && strcmp(r.op, "SHUTDOWN") == 0 && r.nargs == 0) {
        if (from->net)
            send_to(from, "kv bye\n", 7);
        serial_write("kv bye\n", 7);
        exit(0);
    }
    if (r.client == 0) {
        reply(&r, "ERR badclient");
        return;
    }
    if (r.seq == 0) {
        reply(&r, "ERR badseq");
        return;
    }
    struct dedup_entry *d;
    switch (dedup_check(r.client, r.seq, &d)) {
    case DEDUP_REPEAT:
        reply(&r, d->reply);
        break;
    case DEDUP_STALE:
        reply(&r, "ERR stale");
        break;
    case DEDUP_FULL:
        reply(&r, "ERR toomanyclients");
        break;
    default:
        if (apply(&r)) {
            dedup_record(d, r.seq, body);
            if (strcmp(r.op, "GET") != 0)
                journal_append(raw, rawlen);
        }
        reply(&r, body);
        break;
    }
}

/* Applies the journal's whole lines (a last line cut short by a crash was
 * never acknowledged), as the requests were applied, then appends to it. */
static void open_journal(const char *path)
{
    static char buf[4096];
    static struct line l;
    journal = open(path, O_RDWR | O_CREAT | O_APPEND, 0644);
    if (journal < 0)
        die("open the journal");
    line_reset(&l);
    ssize_t n;
    while ((n = read(journal, buf, sizeof(buf))) > 0) {
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] != '\n') {
                line_put(&l, buf[i]);
                continue;
            }
            struct request r;
            const char *reason;
            struct dedup_entry *d;
            line_end(&l);
            r.from = NULL;
            if (parse(&l, &r, &reason) == REQUEST_OK && dedup_check(r.client, r.seq, &d) == DEDUP_NEW && apply(&r))
                dedup_record(d, r.seq, body);
            line_reset(&l);
        }
    }
    if (n < 0)
        die("read the journal");
}

/* ---- input ---- */

static const struct origin serial_origin = {0};
static struct line serial_line, net_line;

static void serial_input(void)
{
    static char buf[4096];
    ssize_t n = read(tty, buf, sizeof(buf));
    if (n < 0) {
        if (errno == EINTR || errno == EAGAIN)
            return;
        die("read " TTY);
    }
    for (ssize_t i = 0; i < n; i++) {
        if (buf[i] == '\n') {
            line_end(&serial_line);
            serve_line(&serial_line, &serial_origin);
            line_reset(&serial_line);
        } else {
            line_put(&serial_line, buf[i]);
        }
    }
}

/* One received frame: a datagram to our port is one request (net.c's
 * checks); anything else is dropped. */
static void net_input(void)
{
    static u8 rx[65536];
    struct sockaddr_ll from;
    socklen_t fromlen = sizeof(from);
    ssize_t got = recvfrom(pkt, rx, sizeof(rx), 0, (struct sockaddr *)&from, &fromlen);
    if (got < 0) {
        if (errno == EINTR || errno == EAGAIN)
            return;
        die("receive a frame");
    }
    /* Only frames to our MAC or broadcast, as the card's receive filter in kv.elf. */
    if (from.sll_pkttype != PACKET_HOST && from.sll_pkttype != PACKET_BROADCAST)
        return;
    u32 n = (u32)got;
    if (n < ETH_HDR + IP_HDR || get16(rx + 12) != ETHERTYPE_IP)
        return;
    const u8 *ip = rx + ETH_HDR;
    u32 avail = n - ETH_HDR;
    if (ip[0] >> 4 != 4)
        return;
    u32 ihl = (ip[0] & 0xFu) * 4, total = get16(ip + 2);
    if (ihl < IP_HDR || total < ihl + UDP_HDR || total > avail)
        return;
    if ((get16(ip + 6) & IP_FRAGMENT) || ip[9] != IP_UDP || memcmp(ip + 16, my_ip, 4) != 0 ||
        fold(sum16(ip, ihl, 0)) != 0)
        return;
    const u8 *u = ip + ihl;
    u32 ulen = get16(u + 4);
    if (ulen < UDP_HDR || ulen > total - ihl || get16(u + 2) != UDP_PORT)
        return;
    if (get16(u + 6) != 0 && udp_sum(ip + 12, ip + 16, u, ulen) != 0)
        return;
    static struct origin peer;
    peer.net = 1;
    memcpy(peer.mac, rx + 6, 6);
    memcpy(peer.ip, ip + 12, 4);
    peer.port = get16(u);
    const char *data = (const char *)u + UDP_HDR;
    u32 len = ulen - UDP_HDR;
    if (len > 0 && data[len - 1] == '\n')
        len--;
    line_reset(&net_line);
    for (u32 i = 0; i < len; i++)
        line_put(&net_line, data[i]);
    line_end(&net_line);
    serve_line(&net_line, &peer);
}

static void drain_udp(void)
{
    static char buf[2048];
    while (recv(udp, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
        ;
}

static void open_serial(void)
{
    tty = open(TTY, O_RDWR | O_NOCTTY);
    if (tty < 0)
        die("open " TTY);
    struct termios t;
    if (tcgetattr(tty, &t) < 0)
        die("tcgetattr " TTY);
    cfmakeraw(&t); /* no echo, no line editing, no "\n" -> "\r\n" */
    t.c_cflag |= CLOCAL | CREAD;
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    if (tcsetattr(tty, TCSANOW, &t) < 0)
        die("tcsetattr " TTY);
}

/* Without eth0 (no card) the network side is off, as in kv.elf. */
static void open_net(void)
{
    ifindex = (int)if_nametoindex(IFACE);
    if (ifindex == 0)
        return;
    pkt = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_IP));
    if (pkt < 0)
        die("packet socket");
    struct sockaddr_ll sll = {0};
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_IP);
    sll.sll_ifindex = ifindex;
    if (bind(pkt, (struct sockaddr *)&sll, sizeof(sll)) < 0)
        die("bind the packet socket to " IFACE);
    struct ifreq ifr = {0};
    strncpy(ifr.ifr_name, IFACE, IFNAMSIZ - 1);
    if (ioctl(pkt, SIOCGIFHWADDR, &ifr) < 0)
        die("the MAC of " IFACE);
    memcpy(my_mac, ifr.ifr_hwaddr.sa_data, 6);
    udp = socket(AF_INET, SOCK_DGRAM, 0);
    if (udp < 0)
        die("UDP socket");
    struct sockaddr_in sin = {0};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(UDP_PORT);
    memcpy(&sin.sin_addr, my_ip, 4);
    if (bind(udp, (struct sockaddr *)&sin, sizeof(sin)) < 0)
        die("bind UDP port 7070");
}

int main(int argc, char **argv)
{
    open_serial();
    if (argc > 1)
        open_journal(argv[1]);
    open_net();
    serial_write("kv ready\n", 9);
    struct pollfd fds[3] = {{tty, POLLIN, 0}, {pkt, POLLIN, 0}, {udp, POLLIN, 0}};
    nfds_t nfds = pkt < 0 ? 1 : 3;
    for (;;) {
        if (poll(fds, nfds, -1) < 0) {
            if (errno == EINTR)
                continue;
            die("poll");
        }
        if (fds[0].revents & (POLLIN | POLLHUP | POLLERR))
            serial_input();
        if (nfds > 1 && (fds[1].revents & POLLIN))
            net_input();
        if (nfds > 2 && (fds[2].revents & POLLIN))
            drain_udp();
    }
}
