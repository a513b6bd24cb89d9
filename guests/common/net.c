/* The guest has one address and answers, never asks: ARP requests for it
 * get a reply, a datagram to NET_UDP_PORT is handed up with the sender's
 * MAC, IP and port kept for its reply (no ARP cache: replies go back to
 * the MAC the request came from). Accepted IPv4: version 4, header
 * checksum valid, not a fragment, to our address, UDP; options are
 * skipped. A UDP checksum is checked when it is not 0, and computed for
 * replies. Everything else is dropped silently. */
#include "net.h"
#include "ne2k.h"
#include "string.h"

#define ETH_HDR 14
#define ETH_ARP 0x0806
#define ETH_IPV4 0x0800
#define ARP_LEN 28
#define IP_HDR 20
#define IP_UDP 17
#define IP_DF 0x4000
#define IP_FRAGMENT 0x3FFF /* MF and the fragment offset */
#define IP_TTL 64
#define UDP_HDR 8

static const u8 my_ip[4] = {NET_IP_0, NET_IP_1, NET_IP_2, NET_IP_3};
static u8 my_mac[6];
static u8 rx[ETH_FRAME_MAX];
static u8 tx[ETH_FRAME_MAX];

/* Where the datagram being served came from. */
struct peer {
    struct origin origin; /* first: the origin is the peer */
    u8 mac[6];
    u8 ip[4];
    u16 port;
};

static u16 get16(const u8 *p) { return (u16)(p[0] << 8 | p[1]); }

static void put16(u8 *p, u32 v)
{
    p[0] = (u8)(v >> 8);
    p[1] = (u8)v;
}

/* Ones'-complement sum of big-endian 16-bit words (an odd last byte is
 * padded with 0), added to sum. */
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

/* The UDP checksum of a segment (0 when one that carries its checksum is
 * intact). */
static u16 udp_sum(const u8 *src, const u8 *dst, const u8 *seg, u32 n)
{
    u32 sum = sum16(src, 4, 0);
    sum = sum16(dst, 4, sum);
    sum += IP_UDP + n;
    return fold(sum16(seg, n, sum));
}

static void eth_header(u8 *f, const u8 *dst, u32 type)
{
    memcpy(f, dst, 6);
    memcpy(f + 6, my_mac, 6);
    put16(f + 12, type);
}

/* An ARP request for our address: reply to the requester. */
static void arp(const u8 *a, u32 n)
{
    if (n < ARP_LEN || get16(a) != 1 || get16(a + 2) != ETH_IPV4 || a[4] != 6 || a[5] != 4 ||
        get16(a + 6) != 1 || memcmp(a + 24, my_ip, 4) != 0)
        return;
    u8 *r = tx + ETH_HDR;
    eth_header(tx, a + 8, ETH_ARP);
    put16(r, 1);        /* Ethernet */
    put16(r + 2, ETH_IPV4);
    r[4] = 6;
    r[5] = 4;
    put16(r + 6, 2);    /* reply */
    memcpy(r + 8, my_mac, 6);
    memcpy(r + 14, my_ip, 4);
    memcpy(r + 18, a + 8, 10); /* the requester's MAC and IP */
    ne2k_send(tx, ETH_HDR + ARP_LEN);
}

static void peer_send(const struct origin *self, const char *line, u32 len)
{
    const struct peer *p = (const struct peer *)self;
    if (len > ETH_FRAME_MAX - ETH_HDR - IP_HDR - UDP_HDR)
        len = ETH_FRAME_MAX - ETH_HDR - IP_HDR - UDP_HDR;
    u8 *ip = tx + ETH_HDR, *udp = ip + IP_HDR;
    eth_header(tx, p->mac, ETH_IPV4);
    ip[0] = 0x45; /* version 4, 5 words */
    ip[1] = 0;
    put16(ip + 2, IP_HDR + UDP_HDR + len);
    put16(ip + 4, 0); /* identification: unused, never fragmented */
    put16(ip + 6, IP_DF);
    ip[8] = IP_TTL;
    ip[9] = IP_UDP;
    put16(ip + 10, 0);
    memcpy(ip + 12, my_ip, 4);
    memcpy(ip + 16, p->ip, 4);
    put16(ip + 10, fold(sum16(ip, IP_HDR, 0)));
    put16(udp, NET_UDP_PORT);
    put16(udp + 2, p->port);
    put16(udp + 4, UDP_HDR + len);
    put16(udp + 6, 0);
    memcpy(udp + UDP_HDR, line, len);
    u16 sum = udp_sum(my_ip, p->ip, udp, UDP_HDR + len);
    put16(udp + 6, sum ? sum : 0xFFFF); /* 0 would mean "no checksum" */
    ne2k_send(tx, ETH_HDR + IP_HDR + UDP_HDR + len);
}

static struct peer peer = {{peer_send}, {0}, {0}, 0};

/* A datagram to our port: 1 with its payload, the sender noted in peer. */
static int udp_request(const u8 *frame, u32 n, const char **data, u32 *len)
{
    const u8 *ip = frame + ETH_HDR;
    u32 avail = n - ETH_HDR;
    if (avail < IP_HDR || ip[0] >> 4 != 4)
        return 0;
    u32 ihl = (ip[0] & 0xFu) * 4, total = get16(ip + 2);
    if (ihl < IP_HDR || total < ihl + UDP_HDR || total > avail)
        return 0;
    if ((get16(ip + 6) & IP_FRAGMENT) || ip[9] != IP_UDP || memcmp(ip + 16, my_ip, 4) != 0 ||
        fold(sum16(ip, ihl, 0)) != 0)
        return 0;
    const u8 *udp = ip + ihl;
    u32 ulen = get16(udp + 4);
    if (ulen < UDP_HDR || ulen > total - ihl || get16(udp + 2) != NET_UDP_PORT)
        return 0;
    if (get16(udp + 6) != 0 && udp_sum(ip + 12, ip + 16, udp, ulen) != 0)
        return 0;
    memcpy(peer.mac, frame + 6, 6);
    memcpy(peer.ip, ip + 12, 4);
    peer.port = get16(udp);
    *data = (const char *)udp + UDP_HDR;
    *len = ulen - UDP_HDR;
    return 1;
}

int net_init(void)
{
    if (!ne2k_init())
        return 0;
    memcpy(my_mac, ne2k_mac(), 6);
    return 1;
}

int net_poll(const char **data, u32 *len, const struct origin **from)
{
    u32 n;
    while (ne2k_recv(rx, sizeof(rx), &n)) {
        if (n < ETH_HDR)
            continue;
        u32 type = get16(rx + 12);
        if (type == ETH_ARP) {
            arp(rx + ETH_HDR, n - ETH_HDR);
        } else if (type == ETH_IPV4 && udp_request(rx, n, data, len)) {
            *from = &peer.origin;
            return 1;
        }
    }
    return 0;
}
