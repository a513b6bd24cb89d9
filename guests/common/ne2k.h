/* NE2000 network card: the RTL8029 (PCI 10ec:8029) v86 always puts on its
 * PCI bus. Frames go out by remote DMA and a transmit command; received
 * frames land in the card's ring and raise its IRQ, whose handler only
 * notes that there is something to read. */
#ifndef GUEST_NE2K_H
#define GUEST_NE2K_H

#include "types.h"

#define ETH_FRAME_MAX 1514 /* without the FCS, which the card adds and strips */

/* Find the card, route and unmask its IRQ, reset it, read its MAC from the
 * station-address PROM and start receiving (our MAC and broadcast).
 * Returns 0, touching nothing else, when there is no such card. Call with
 * interrupts disabled. */
int ne2k_init(void);

/* The MAC read from the PROM (valid after ne2k_init returned 1). */
const u8 *ne2k_mac(void);

/* With interrupts disabled (the handler shares the card's registers):
 * copies the next received frame into buf and returns 1 with its length;
 * frames longer than cap are dropped. Returns 0 when the ring is empty;
 * the next frame to arrive interrupts (and so ends a "sti; hlt"). */
int ne2k_recv(u8 *buf, u32 cap, u32 *len);

/* Send one frame (at most ETH_FRAME_MAX bytes; shorter than 60 is padded
 * with zeros). Any interrupt state. */
void ne2k_send(const u8 *frame, u32 len);

#endif
