/* NE2000 (DP8390 core) in 16-bit mode. Facts about v86's emulation
 * (src/ne2k.js) this relies on:
 *  - I/O BAR0 at 0x300 (32 ports), INTA#, interrupt line 0 until set; the
 *    IRQ is whatever the PIIX3 routes PIRQ[(pin-1 + slot-1) & 3] to (see
 *    pci_irq), level = ISR & IMR, and the guest's PIC takes it as an edge.
 *  - 8-bit accesses to the data port are treated as 16-bit ones, so the
 *    data port is only used with 16-bit I/O and DCR.WTS set.
 *  - The PROM (remote DMA at 0) holds each MAC byte twice: in word mode
 *    every word is one byte of the MAC, twice.
 *  - RCR: physical-address match is always on, AB (0x04) adds broadcast,
 *    PRO promiscuous; multicast is never taken (AM or not). Receive stores
 *    max(60, length) bytes behind a 4-byte header (status, next page,
 *    length + 4) and sets ISR.PRX. It never reports errors or overflow: a
 *    frame that does not fit is dropped.
 *  - Transmit happens within the OUT to CR (ISR.PTX right after), and the
 *    card does not pad short frames.
 *  - It takes BNRY == CURR for an empty ring, where the DP8390 (and this
 *    driver) mean a full one: when a burst leaves exactly one free page,
 *    the next frame makes CURR catch up with the frames not yet read, and
 *    they are lost (a real card would drop the new frame instead).
 * Card memory: pages 0x40..0x45 hold the frame being sent, 0x46..0x7F are
 * the receive ring. BNRY is kept one page behind the next frame to read,
 * as the DP8390 wants (Linux does the same). Every register access but the
 * handler's runs with interrupts disabled, so the handler always finds
 * register page 0 selected. */
#include "ne2k.h"
#include "idt.h"
#include "io.h"
#include "pci.h"

#define NE2K_VENDOR 0x10EC
#define NE2K_DEVICE 0x8029

/* Registers, page 0 unless noted. */
#define CR 0x00
#define PSTART 0x01
#define PAR0 0x01 /* page 1, 0x01..0x06 */
#define PSTOP 0x02
#define BNRY 0x03
#define TPSR 0x04
#define TBCR0 0x05
#define TBCR1 0x06
#define ISR 0x07
#define CURR 0x07 /* page 1 */
#define RSAR0 0x08
#define RSAR1 0x09
#define RBCR0 0x0A
#define RBCR1 0x0B
#define RCR 0x0C
#define TCR 0x0D
#define DCR 0x0E
#define IMR 0x0F
#define DATA 0x10
#define RESET 0x1F

/* CR: STP/STA, TXP, remote DMA read/write/abort, register page. */
#define CR_STP 0x01
#define CR_STA 0x02
#define CR_TXP 0x04
#define CR_RREAD 0x08
#define CR_RWRITE 0x10
#define CR_NODMA 0x20
#define CR_PAGE1 0x40

#define ISR_PRX 0x01
#define ISR_PTX 0x02
#define ISR_TXE 0x08
#define ISR_RDC 0x40
#define ISR_RST 0x80

#define DCR_WTS 0x01 /* word transfers */
#define DCR_LS 0x08  /* normal operation (not loopback) */
#define DCR_FT1 0x40 /* FIFO threshold */
#define RCR_AB 0x04  /* accept broadcast */
#define RCR_MON 0x20 /* monitor: check, don't store */
#define TCR_LOOP 0x02 /* internal loopback */
#define RSR_PRX 0x01  /* receive status in the ring header */

#define TX_PAGE 0x40
#define RX_START 0x46
#define RX_STOP 0x80
#define ETH_MIN 60 /* frames are padded to this (without the FCS) */

#define SPIN_MAX 100000 /* bound on waits for things v86 does at once */

static u16 base;
static u8 mac[6];
static u8 next_pkt; /* ring page of the next frame to read */
static volatile int rx_pending;

static void reg_out(u16 reg, u8 v) { outb(base + reg, v); }
static u8 reg_in(u16 reg) { return inb(base + reg); }

/* The card's IRQ: note received frames and lower the line. */
static void ne2k_irq(void)
{
    u8 isr = reg_in(ISR);
    if (isr & ISR_PRX) {
        reg_out(ISR, ISR_PRX);
        rx_pending = 1;
    }
}

static void wait_rdc(void)
{
    for (u32 i = 0; i < SPIN_MAX && !(reg_in(ISR) & ISR_RDC); i++)
        ;
    reg_out(ISR, ISR_RDC);
}

/* Remote DMA of n bytes (rounded up to whole words) at card address addr. */
static void dma_start(u16 addr, u32 n, u8 cmd)
{
    u32 count = (n + 1) & ~1u;
    reg_out(CR, CR_NODMA | CR_STA);
    reg_out(RBCR0, (u8)count);
    reg_out(RBCR1, (u8)(count >> 8));
    reg_out(RSAR0, (u8)addr);
    reg_out(RSAR1, (u8)(addr >> 8));
    reg_out(CR, cmd | CR_STA);
}

/* Reads wrap from the end of the ring to its start, as frames do. */
static void dma_read(u16 addr, u8 *buf, u32 n)
{
    dma_start(addr, n, CR_RREAD);
    for (u32 i = 0; i < n; i += 2) {
        u16 w = inw(base + DATA);
        buf[i] = (u8)w;
        if (i + 1 < n)
            buf[i + 1] = (u8)(w >> 8);
    }
    wait_rdc();
}

static u8 read_curr(void)
{
    reg_out(CR, CR_PAGE1 | CR_NODMA | CR_STA);
    u8 curr = reg_in(CURR);
    reg_out(CR, CR_NODMA | CR_STA);
    return curr;
}

/* The frame at page next is the next to read; free the pages before it. */
static void set_next(u8 next)
{
    next_pkt = next;
    reg_out(BNRY, (u8)((next == RX_START ? RX_STOP : next) - 1));
}

static int find_card(void)
{
    struct pci_dev d;
    if (!pci_find(NE2K_VENDOR, NE2K_DEVICE, &d))
        return -1;
    u32 bar0 = pci_read32(&d, 0x10);
    if (!(bar0 & 1))
        return -1; /* not an I/O BAR */
    int irq = pci_irq(&d);
    if (irq < 0)
        return -1;
    u8 cmd = pci_read8(&d, 0x04);
    if (!(cmd & 1))
        pci_write8(&d, 0x04, cmd | 1); /* I/O space on */
    base = (u16)(bar0 & 0xFFFC);
    return irq;
}

int ne2k_init(void)
{
    int irq = find_card();
    if (irq < 0)
        return 0;

    reg_out(RESET, reg_in(RESET));
    for (u32 i = 0; i < SPIN_MAX && !(reg_in(ISR) & ISR_RST); i++)
        ;
    reg_out(CR, CR_NODMA | CR_STP);
    reg_out(DCR, DCR_FT1 | DCR_LS | DCR_WTS);
    reg_out(RBCR0, 0);
    reg_out(RBCR1, 0);
    reg_out(RCR, RCR_MON);
    reg_out(TCR, TCR_LOOP);
    reg_out(ISR, 0xFF);
    reg_out(IMR, 0);

    /* Station-address PROM: 16 words, each one MAC byte doubled. */
    u8 prom[32];
    dma_read(0, prom, sizeof(prom));
    for (int i = 0; i < 6; i++)
        mac[i] = prom[2 * i];

    reg_out(CR, CR_NODMA | CR_STP);
    reg_out(TPSR, TX_PAGE);
    reg_out(PSTART, RX_START);
    reg_out(PSTOP, RX_STOP);
    reg_out(BNRY, RX_STOP - 1);
    reg_out(ISR, 0xFF);
    reg_out(CR, CR_PAGE1 | CR_NODMA | CR_STP);
    for (int i = 0; i < 6; i++)
        reg_out(PAR0 + i, mac[i]);
    reg_out(CURR, RX_START);
    next_pkt = RX_START;
    reg_out(CR, CR_NODMA | CR_STA);
    reg_out(TCR, 0);
    reg_out(RCR, RCR_AB);

    irq_install(irq, ne2k_irq);
    reg_out(IMR, ISR_PRX);
    return 1;
}

const u8 *ne2k_mac(void) { return mac; }

int ne2k_recv(u8 *buf, u32 cap, u32 *len)
{
    while (rx_pending) {
        u8 curr = read_curr();
        if (next_pkt == curr) {
            rx_pending = 0;
            break;
        }
        u8 hdr[4]; /* status, next page, length (with this header) */
        dma_read((u16)(next_pkt << 8), hdr, sizeof(hdr));
        u32 total = (u32)(hdr[2] | hdr[3] << 8);
        if (!(hdr[0] & RSR_PRX) || hdr[1] < RX_START || hdr[1] >= RX_STOP || total < 4) {
            set_next(curr); /* lost track of the ring: drop what is in it */
            rx_pending = 0;
            break;
        }
        u32 n = total - 4;
        int fits = n <= cap;
        if (fits)
            dma_read((u16)((next_pkt << 8) + 4), buf, n);
        set_next(hdr[1]);
        if (fits) {
            *len = n;
            return 1;
        }
    }
    return 0;
}

void ne2k_send(const u8 *frame, u32 len)
{
    if (len > ETH_FRAME_MAX)
        return;
    u32 count = len < ETH_MIN ? ETH_MIN : len;
    u32 on = irq_save();
    for (u32 i = 0; i < SPIN_MAX && (reg_in(CR) & CR_TXP); i++)
        ; /* the previous frame is still going out */
    reg_out(ISR, ISR_PTX | ISR_TXE);
    dma_start(TX_PAGE << 8, count, CR_RWRITE);
    for (u32 i = 0; i < count; i += 2) {
        u8 lo = i < len ? frame[i] : 0;
        u8 hi = i + 1 < len ? frame[i + 1] : 0;
        outw(base + DATA, (u16)(lo | hi << 8));
    }
    wait_rdc();
    reg_out(TPSR, TX_PAGE);
    reg_out(TBCR0, (u8)count);
    reg_out(TBCR1, (u8)(count >> 8));
    reg_out(CR, CR_NODMA | CR_TXP | CR_STA);
    irq_restore(on);
}
