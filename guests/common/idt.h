/* Interrupt descriptor table, exception reporting and IRQ dispatch. */
#ifndef GUEST_IDT_H
#define GUEST_IDT_H

#include "types.h"

/* Vectors the PICs are remapped to (see pic.c). */
#define IRQ_BASE_MASTER 0x20
#define IRQ_BASE_SLAVE 0x28

struct int_frame {
    u32 edi, esi, ebp, esp, ebx, edx, ecx, eax; /* pushal */
    u32 vector, err;
    u32 eip, cs, eflags;                         /* pushed by the CPU */
};

typedef void (*irq_handler_t)(void);

void idt_init(void);

/* Install the handler for IRQ line 0..15 (called with interrupts
 * disabled; the EOI is sent after it returns) and unmask the line. */
void irq_install(int irq, irq_handler_t handler);

#endif
