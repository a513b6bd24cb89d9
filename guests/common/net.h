/* Just enough Ethernet, ARP, IPv4 and UDP for one UDP service on the
 * NE2000: kv's request port. */
#ifndef GUEST_NET_H
#define GUEST_NET_H

#include "request.h"
#include "types.h"

#define NET_IP_0 10 /* the guest's address, 10.0.2.15 */
#define NET_IP_1 0
#define NET_IP_2 2
#define NET_IP_3 15
#define NET_UDP_PORT 7070

/* Bring up the card (ne2k_init). Returns 0 when there is none: networking
 * is then off. Call with interrupts disabled. */
int net_init(void);

/* A request_source: handles the received frames in order (answering ARP
 * who-has for our address, dropping anything else that is not a UDP
 * datagram to our port) until a datagram for our port turns up: its
 * payload is the request; the reply goes back as one datagram to the
 * sender's MAC, IP and port. */
int net_poll(const char **data, u32 *len, const struct origin **from);

#endif
