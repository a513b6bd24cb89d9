/* Fixed-width integer types for the freestanding i386 guests. */
#ifndef GUEST_TYPES_H
#define GUEST_TYPES_H

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef signed int s32;
typedef unsigned int size_t;

#define NULL ((void *)0)

#endif
