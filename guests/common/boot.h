/* Machine set-up shared by every guest, then the guest's own main. */
#ifndef GUEST_BOOT_H
#define GUEST_BOOT_H

#include "types.h"

/* Each guest defines this. It runs with the GDT, IDT, PICs and COM1 set
 * up, the command line parsed, and interrupts still disabled. Returning
 * from it ends the run (cli; hlt). */
void guest_main(void);

#endif
