/* COM1 driver. Output: wait for THR empty (LSR bit 5), write THR.
 * Input: the IRQ4 handler moves bytes from RBR (while LSR bit 0) into a
 * ring buffer. When the ring is full the handler turns the receive
 * interrupt off and leaves the rest in the UART; serial_poll() turns it
 * back on once there is room, so a burst of any size loses nothing. */
#include "serial.h"
#include "idt.h"
#include "io.h"

#define COM1 0x3F8
#define THR (COM1 + 0) /* write; RBR on read */
#define IER (COM1 + 1)
#define FCR (COM1 + 2)
#define LCR (COM1 + 3)
#define MCR (COM1 + 4)
#define LSR (COM1 + 5)

#define LSR_DATA_READY 0x01
#define LSR_THR_EMPTY 0x20
#define IER_RX 0x01

#define RING_SIZE 4096 /* power of two */

static u8 ring[RING_SIZE];
static volatile u32 ring_head; /* written by the IRQ handler */
static volatile u32 ring_tail; /* written by the reader */
static volatile int rx_paused;

static void serial_irq(void)
{
    while (inb(LSR) & LSR_DATA_READY) {
        if (ring_head - ring_tail == RING_SIZE) {
            rx_paused = 1;
            outb(IER, 0);
            return;
        }
        ring[ring_head & (RING_SIZE - 1)] = inb(THR);
        ring_head++;
    }
}

void serial_init(void)
{
    outb(IER, 0);
    outb(LCR, 0x80); /* DLAB: divisor 1 = 115200 baud */
    outb(THR, 1);
    outb(IER, 0);
    outb(LCR, 0x03); /* 8N1 */
    outb(FCR, 0x00); /* no FIFO: one receive-data interrupt kind */
    outb(MCR, 0x0B); /* DTR, RTS, OUT2 (gates the IRQ on real UARTs) */
}

void serial_enable_rx(void)
{
    irq_install(4, serial_irq);
    outb(IER, IER_RX);
}

void serial_putc(char c)
{
    while (!(inb(LSR) & LSR_THR_EMPTY))
        ;
    outb(THR, (u8)c);
}

void serial_write(const char *s, u32 n)
{
    for (u32 i = 0; i < n; i++)
        serial_putc(s[i]);
}

int serial_poll(void)
{
    if (ring_head == ring_tail)
        return -1;
    u8 c = ring[ring_tail & (RING_SIZE - 1)];
    ring_tail++;
    if (rx_paused) {
        rx_paused = 0;
        outb(IER, IER_RX); /* raises IRQ4 again if bytes wait */
    }
    return c;
}
