/*
 * pgjwt_compat.h - the pgjwt drop-in (extension pgjwt, schema pgjwt)
 */
#ifndef PGJWT_COMPAT_H
#define PGJWT_COMPAT_H

/* Define jwt.pgjwt_strict; called from _PG_init before the jwt prefix is reserved. */
extern void pgjwt_compat_init(void);

#endif
