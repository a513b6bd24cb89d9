/* bootsector: the smallest BIOS guest, a smoke test of the BIOS boot path.
 *
 * A 512-byte boot sector (a disk image with the 0x55 0xAA signature) that
 * the BIOS loads at 0x7C00 and jumps to in 16-bit real mode. It sets up
 * COM1 by port I/O (no BIOS services), prints one line with the boot
 * drive the BIOS passed in DL, and ends with cli; hlt ("halted with
 * interrupts disabled", the end of a run). Its only memory writes are the
 * return addresses on its stack, which lies below 0x6000, off the 4 KiB
 * page of the code (a write to a code page discards v86's JIT code).
 *
 * output:  bootsector: hello from the BIOS boot path drive=xx
 */
#define COM1 0x3F8
#define LSR_THR_EMPTY 0x20

    .code16
    .text
    .globl _start
_start:
    cli
    xorw %ax, %ax
    movw %ax, %ds
    movw %ax, %ss
    movw $0x6000, %sp
    cld
    movb %dl, %bl              /* the boot drive, from the BIOS */

    movw $COM1 + 1, %dx        /* IER: no interrupts */
    xorb %al, %al
    outb %al, %dx
    movw $COM1 + 3, %dx        /* LCR: DLAB, divisor 1 = 115200 baud */
    movb $0x80, %al
    outb %al, %dx
    movw $COM1 + 0, %dx
    movb $1, %al
    outb %al, %dx
    movw $COM1 + 1, %dx
    xorb %al, %al
    outb %al, %dx
    movw $COM1 + 3, %dx        /* LCR: 8N1 */
    movb $0x03, %al
    outb %al, %dx

    movw $hello, %si
    call puts
    movb %bl, %al              /* drive number as two hex digits */
    shrb $4, %al
    call puthex
    movb %bl, %al
    call puthex
    movb $'\n', %al
    call putc
halt:
    cli
    hlt
    jmp halt

/* Print the NUL-terminated string at DS:SI. */
puts:
    lodsb
    testb %al, %al
    jz 1f
    call putc
    jmp puts
1:  ret

/* Print the low nibble of AL as a lowercase hex digit. */
puthex:
    andb $0x0F, %al
    addb $'0', %al
    cmpb $'9', %al
    jbe putc
    addb $'a' - '9' - 1, %al
    /* fall through */

/* Print AL on COM1 once the transmitter is empty (clobbers AH, DX). */
putc:
    movb %al, %ah
    movw $COM1 + 5, %dx
1:  inb %dx, %al
    testb $LSR_THR_EMPTY, %al
    jz 1b
    movb %ah, %al
    movw $COM1, %dx
    outb %al, %dx
    ret

hello:
    .asciz "bootsector: hello from the BIOS boot path drive="

    .org 510
    .byte 0x55, 0xAA
