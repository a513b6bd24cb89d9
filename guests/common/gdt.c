/* Flat 4 GiB code and data segments at selectors 0x08 and 0x10 (the ones
 * the multiboot loader already put in the segment registers). The accessed
 * bits are preset so that loading a segment never writes to the table. */
#include "gdt.h"
#include "types.h"

static u64 gdt[3] __attribute__((aligned(8))) = {
    0,
    0x00CF9B000000FFFFull, /* 0x08: code, ring 0, 32-bit, 4 GiB, accessed */
    0x00CF93000000FFFFull, /* 0x10: data, ring 0, 32-bit, 4 GiB, accessed */
};

static struct {
    u16 limit;
    u32 base;
} __attribute__((packed)) gdtr;

void gdt_init(void)
{
    gdtr.limit = sizeof(gdt) - 1;
    gdtr.base = (u32)gdt;
    __asm__ volatile(
        "lgdt %0\n\t"
        "ljmp $0x08, $1f\n"
        "1:\n\t"
        "movw $0x10, %%ax\n\t"
        "movw %%ax, %%ds\n\t"
        "movw %%ax, %%es\n\t"
        "movw %%ax, %%fs\n\t"
        "movw %%ax, %%gs\n\t"
        "movw %%ax, %%ss\n\t"
        : : "m"(gdtr) : "eax", "memory");
}
