/* IDT with 48 interrupt gates: CPU exceptions 0..31 stop the guest with a
 * "panic" line on the serial port, vectors 0x20..0x2F are the 16 IRQ
 * lines of the remapped PICs. */
#include "idt.h"
#include "gdt.h"
#include "io.h"
#include "pic.h"
#include "print.h"

#define IDT_ENTRIES 48

extern const u32 isr_stubs[IDT_ENTRIES];

static u64 idt[IDT_ENTRIES] __attribute__((aligned(8)));
static irq_handler_t irq_handlers[16];

static struct {
    u16 limit;
    u32 base;
} __attribute__((packed)) idtr;

void idt_init(void)
{
    for (int i = 0; i < IDT_ENTRIES; i++) {
        u32 off = isr_stubs[i];
        /* present, ring 0, 32-bit interrupt gate (IF cleared on entry) */
        idt[i] = (u64)(off & 0xFFFF) | ((u64)GDT_CODE_SEL << 16) | ((u64)0x8E00 << 32) |
                 ((u64)(off & 0xFFFF0000) << 32);
    }
    idtr.limit = sizeof(idt) - 1;
    idtr.base = (u32)idt;
    __asm__ volatile("lidt %0" : : "m"(idtr) : "memory");
}

void irq_install(int irq, irq_handler_t handler)
{
    irq_handlers[irq] = handler;
    pic_unmask(irq);
}

void interrupt_dispatch(struct int_frame *f)
{
    u32 v = f->vector;
    if (v >= IRQ_BASE_MASTER && v < IRQ_BASE_MASTER + 16) {
        int irq = v - IRQ_BASE_MASTER;
        if (irq_handlers[irq])
            irq_handlers[irq]();
        pic_eoi(irq);
        return;
    }
    kprintf("panic: exception %u err=%x eip=%x\n", v, f->err, f->eip);
    halt_forever();
}
