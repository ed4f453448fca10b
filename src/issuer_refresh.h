/*
 * issuer_refresh.h - JWKS URL settings, the refresh worker and its nudge
 */
#ifndef JWT_ISSUER_REFRESH_H
#define JWT_ISSUER_REFRESH_H

#include "http_fetch.h"

/* Define the settings; with the library preloaded, the shared memory and workers. */
extern void jwt_issuer_refresh_init(void);

/* The fetch limits the settings give. */
extern void jwt_http_limits(HttpFetchLimits *limits);

/*
 * A token named a kid that no key has: ask this database's refresh worker to
 * refresh its issuers early.  At most once a minute per database; never waits
 * and never does I/O; does nothing without the preload.
 */
extern void jwt_issuer_nudge(void);

#endif
