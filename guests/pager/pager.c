/* pager: demand paging under hot code, for v86's JIT (tests only).
 *
 * Paging on: the first 4 MiB identity-mapped, and a 4 MiB window at
 * 0x40000000 whose pages are mapped only when touched (the page fault
 * handler maps the next free physical page from 4 MiB up). The main loop
 * computes for a while, then stores into the next page of the window: once
 * the loop is hot, that store page-faults inside compiled code, where v86's
 * JIT has counted the rest of the basic block already. After each pass the
 * window is unmapped again, so every pass faults on every page.
 *
 * cmdline: passes=N (default 4), pages=N (1..1024, default 256)
 * output:  pager done faults=N hash=xxxxxxxx
 */
#include "../common/boot.h"
#include "../common/cmdline.h"
#include "../common/gdt.h"
#include "../common/io.h"
#include "../common/print.h"

#define PAGE 4096u
#define PRESENT_WRITABLE 3u
#define WINDOW 0x40000000u
#define POOL 0x400000u

static u32 page_directory[1024] __attribute__((aligned(4096)));
static u32 low_table[1024] __attribute__((aligned(4096)));
static u32 window_table[1024] __attribute__((aligned(4096)));
static u32 next_free = POOL;
static u32 faults;

/* Called by the page fault stub with CR2: maps the faulting window page. */
void __attribute__((used)) map_page(u32 address)
{
    u32 index = (address - WINDOW) >> 12;
    if (address < WINDOW || index >= 1024) {
        kprintf("panic: page fault at %x outside the window\n", address);
        halt_forever();
    }
    window_table[index] = next_free | PRESENT_WRITABLE;
    next_free += PAGE;
    faults++;
}

/* Vector 14: the CPU pushed an error code; map the page and retry the instruction. */
__asm__(".text\n"
        "page_fault_stub:\n"
        "    pushal\n"
        "    movl %cr2, %eax\n"
        "    pushl %eax\n"
        "    call map_page\n"
        "    addl $4, %esp\n"
        "    popal\n"
        "    addl $4, %esp\n"
        "    iret\n");
extern char page_fault_stub[];

static void install_page_fault_handler(void)
{
    struct {
        u16 limit;
        u32 base;
    } __attribute__((packed)) idtr;
    __asm__ volatile("sidt %0" : "=m"(idtr));
    u32 *gate = (u32 *)(idtr.base + 14 * 8);
    u32 handler = (u32)page_fault_stub;
    gate[0] = (handler & 0xFFFF) | ((u32)GDT_CODE_SEL << 16);
    gate[1] = (handler & 0xFFFF0000) | 0x8E00;
}

static void enable_paging(void)
{
    for (u32 i = 0; i < 1024; i++)
        low_table[i] = i * PAGE | PRESENT_WRITABLE;
    page_directory[0] = (u32)low_table | PRESENT_WRITABLE;
    page_directory[WINDOW >> 22] = (u32)window_table | PRESENT_WRITABLE;
    __asm__ volatile("movl %0, %%cr3\n"
                     "movl %%cr0, %%eax\n"
                     "orl $0x80000000, %%eax\n"
                     "movl %%eax, %%cr0"
                     : : "r"(page_directory) : "eax", "memory");
}

/* Unmaps the window and flushes the TLB (reloading CR3): the next pass faults again. */
static void unmap_window(u32 pages)
{
    for (u32 i = 0; i < pages; i++)
        window_table[i] = 0;
    next_free = POOL;
    __asm__ volatile("movl %%cr3, %%eax\n movl %%eax, %%cr3" : : : "eax", "memory");
}

static u32 pass(u32 pages, u32 x)
{
    volatile u32 *window = (volatile u32 *)WINDOW;
    for (u32 p = 0; p < pages; p++) {
        for (u32 i = 0; i < 200; i++)
            x = x * 0x01000193u + (x >> 7);
        window[p * (PAGE / 4) + (x & 0x3FF)] = x;
        x += window[p * (PAGE / 4)] ^ (p + 1);
    }
    return x;
}

void guest_main(void)
{
    u32 passes = cmdline_u32("passes", 4);
    u32 pages = cmdline_u32("pages", 256);
    if (pages == 0 || pages > 1024)
        pages = 256;
    install_page_fault_handler();
    enable_paging();
    u32 hash = 0x811C9DC5u;
    for (u32 i = 0; i < passes; i++) {
        hash = pass(pages, hash);
        unmap_window(pages);
    }
    kprintf("pager done faults=%u hash=%x\n", faults, hash);
}
