/*
 * fuzz/shim/miscadmin.h - the server's miscadmin.h, as far as the core needs
 * it outside the server: there are no interrupts to check.
 */
#ifndef JWT_FUZZ_SHIM_MISCADMIN_H
#define JWT_FUZZ_SHIM_MISCADMIN_H

#define CHECK_FOR_INTERRUPTS() ((void) 0)

#endif
