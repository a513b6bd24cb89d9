/* The two 8259 programmable interrupt controllers. */
#ifndef GUEST_PIC_H
#define GUEST_PIC_H

void pic_init(void);
void pic_unmask(int irq);
void pic_eoi(int irq);

#endif
