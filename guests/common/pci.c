/* Configuration reads latch a whole dword; byte writes go to 0xCFC + the
 * low two offset bits. Only bus 0 is scanned: everything the guests can
 * meet (v86, QEMU's i440FX) sits there. */
#include "pci.h"
#include "io.h"

#define PCI_ADDR 0xCF8
#define PCI_DATA 0xCFC

#define PIIX3_VENDOR 0x8086
#define PIIX3_DEVICE 0x7000
#define PIIX3_PIRQ_ROUTE 0x60 /* PIRQA..D route registers, 0x60..0x63 */
#define PIRQ_DISABLED 0x80
#define DEFAULT_IRQ 11

static void pci_select(const struct pci_dev *d, u8 off)
{
    outl(PCI_ADDR, 0x80000000u | (u32)d->bus << 16 | (u32)d->dev << 11 | (u32)d->fn << 8 |
                       (off & 0xFCu));
}

u32 pci_read32(const struct pci_dev *d, u8 off)
{
    pci_select(d, off);
    return inl(PCI_DATA);
}

u8 pci_read8(const struct pci_dev *d, u8 off)
{
    return (u8)(pci_read32(d, off) >> ((off & 3) * 8));
}

void pci_write8(const struct pci_dev *d, u8 off, u8 v)
{
    pci_select(d, off);
    outb(PCI_DATA + (off & 3), v);
}

int pci_find(u16 vendor, u16 device, struct pci_dev *out)
{
    struct pci_dev d = {0, 0, 0};
    for (d.dev = 0; d.dev < 32; d.dev++) {
        for (d.fn = 0; d.fn < 8; d.fn++) {
            u32 id = pci_read32(&d, 0x00);
            if ((id & 0xFFFF) == 0xFFFF) {
                if (d.fn == 0)
                    break; /* no device in this slot */
                continue;
            }
            if ((id & 0xFFFF) == vendor && id >> 16 == device) {
                *out = d;
                return 1;
            }
            if (d.fn == 0 && !(pci_read8(&d, 0x0E) & 0x80))
                break; /* single-function device */
        }
    }
    return 0;
}

/* Not the lines of the PIT, keyboard, cascade, COM1 or RTC. */
static int usable(u32 irq)
{
    return irq >= 3 && irq <= 15 && irq != 4 && irq != 8;
}

int pci_irq(const struct pci_dev *d)
{
    u32 pin = pci_read8(d, 0x3D);
    u32 line = pci_read8(d, 0x3C);
    if (pin < 1 || pin > 4)
        return -1;
    struct pci_dev isa;
    if (!pci_find(PIIX3_VENDOR, PIIX3_DEVICE, &isa))
        return usable(line) ? (int)line : -1;
    u8 reg = (u8)(PIIX3_PIRQ_ROUTE + ((pin - 1 + d->dev - 1) & 3));
    u32 route = pci_read8(&isa, reg);
    if ((route & PIRQ_DISABLED) || !usable(route)) {
        route = usable(line) ? line : DEFAULT_IRQ;
        pci_write8(&isa, reg, (u8)route);
    }
    if (line != route)
        pci_write8(d, 0x3C, (u8)route);
    return (int)route;
}
