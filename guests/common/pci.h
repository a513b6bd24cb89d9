/* PCI configuration space (mechanism #1, ports 0xCF8/0xCFC): finding a
 * device on bus 0 and the ISA IRQ its interrupt pin reaches. */
#ifndef GUEST_PCI_H
#define GUEST_PCI_H

#include "types.h"

struct pci_dev {
    u8 bus, dev, fn;
};

u32 pci_read32(const struct pci_dev *d, u8 off);
u8 pci_read8(const struct pci_dev *d, u8 off);
void pci_write8(const struct pci_dev *d, u8 off, u8 v);

/* The first function on bus 0 with this vendor and device id: 1 and *out,
 * or 0 when there is none. */
int pci_find(u16 vendor, u16 device, struct pci_dev *out);

/* The ISA IRQ (3..15) the device's INTx# pin is routed to, or -1. On a
 * PIIX3 (the only south bridge v86 and QEMU's i440FX have) the route is
 * its PIRQ register 0x60 + ((pin - 1 + slot - 1) & 3). Without a BIOS
 * nobody has programmed it (v86 leaves it 0: the card would raise IRQ 0,
 * the timer's line), so an unusable route is set to the device's
 * interrupt line (config 0x3C) if that is usable, else to 11; config 0x3C
 * is then set to the IRQ used, as a BIOS would. */
int pci_irq(const struct pci_dev *d);

#endif
