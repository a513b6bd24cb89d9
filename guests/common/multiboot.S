/* Multiboot header and entry point shared by all guests.
 * The loader (v86, GRUB, QEMU -kernel) enters _start in 32-bit protected
 * mode with flat segments, EAX = 0x2BADB002, EBX = multiboot info. */

#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00000000

    .section .multiboot, "a"
    .balign 4
    .long MB_MAGIC
    .long MB_FLAGS
    .long -(MB_MAGIC + MB_FLAGS)

    .section .text
    .globl _start
    .type _start, @function
_start:
    cli
    cld
    movl $stack_top, %esp
    /* Zero .bss (the loader may not have). */
    movl %eax, %esi
    movl $__bss_start, %edi
    movl $__bss_end, %ecx
    subl %edi, %ecx
    shrl $2, %ecx
    xorl %eax, %eax
    rep stosl
    movl %esi, %eax
    pushl %ebx              /* multiboot info */
    pushl %eax              /* multiboot magic */
    call boot
1:  cli
    hlt
    jmp 1b

    .section .bss
    .balign 4096
stack_bottom:
    .skip 16384
    .globl stack_top
stack_top:

    .section .note.GNU-stack, "", @progbits
