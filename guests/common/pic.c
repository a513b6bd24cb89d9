/* Remap the 8259 pair to vectors 0x20..0x2F (away from CPU exceptions),
 * all lines masked until a handler is installed. */
#include "pic.h"
#include "idt.h"
#include "io.h"

#define PIC1_CMD 0x20
#define PIC1_DATA 0x21
#define PIC2_CMD 0xA0
#define PIC2_DATA 0xA1

static u8 mask1 = 0xFF, mask2 = 0xFF;

void pic_init(void)
{
    outb(PIC1_CMD, 0x11);             /* ICW1: edge, cascade, ICW4 follows */
    outb(PIC2_CMD, 0x11);
    outb(PIC1_DATA, IRQ_BASE_MASTER); /* ICW2: vector base */
    outb(PIC2_DATA, IRQ_BASE_SLAVE);
    outb(PIC1_DATA, 0x04);            /* ICW3: slave on IRQ2 */
    outb(PIC2_DATA, 0x02);
    outb(PIC1_DATA, 0x01);            /* ICW4: 8086 mode, normal EOI */
    outb(PIC2_DATA, 0x01);
    mask1 = 0xFF & ~(1 << 2);         /* cascade line open, rest masked */
    mask2 = 0xFF;
    outb(PIC1_DATA, mask1);
    outb(PIC2_DATA, mask2);
}

void pic_unmask(int irq)
{
    if (irq < 8) {
        mask1 &= ~(1 << irq);
        outb(PIC1_DATA, mask1);
    } else {
        mask2 &= ~(1 << (irq - 8));
        outb(PIC2_DATA, mask2);
    }
}

void pic_eoi(int irq)
{
    if (irq >= 8)
        outb(PIC2_CMD, 0x20);
    outb(PIC1_CMD, 0x20);
}
