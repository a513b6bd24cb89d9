/* Called from _start with the multiboot magic and info pointer. */
#include "boot.h"
#include "cmdline.h"
#include "gdt.h"
#include "idt.h"
#include "io.h"
#include "pic.h"
#include "serial.h"

void boot(u32 magic, const void *mbi)
{
    gdt_init();
    idt_init();
    pic_init();
    serial_init();
    cmdline_init(magic, mbi);
    guest_main();
    halt_forever();
}
