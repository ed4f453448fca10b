/*
 * transport.h - no bearer token over an unencrypted client connection
 */
#ifndef JWT_TRANSPORT_H
#define JWT_TRANSPORT_H

#include <sys/socket.h>

/* jwt.require_secure_transport */
typedef enum JwtTransportMode
{
	JWT_TRANSPORT_OFF,			/* anything goes (the default, for upgrades) */
	JWT_TRANSPORT_REMOTE,		/* TLS on TCP from a non-loopback address */
	JWT_TRANSPORT_ALWAYS		/* TLS on every TCP connection */
} JwtTransportMode;

/* Define the settings; called from _PG_init. */
extern void jwt_transport_init(void);

/*
 * Whether a connection of this kind may carry a bearer token under mode:
 * Unix sockets always may, TLS always may, plain TCP only from loopback
 * under JWT_TRANSPORT_REMOTE.  addr is the client's address (TCP only).
 */
extern bool jwt_transport_allowed(JwtTransportMode mode, bool unix_socket, bool tls,
								  const struct sockaddr *addr);

/*
 * Refuse (raise 28JT1) when the current client connection may not carry a
 * bearer token.  Before refusing, and only when jwt.revoke_exposed_tokens is
 * on, revoke(arg) is called to revoke the token; it says whether it did.
 */
extern void jwt_transport_check(bool (*revoke) (void *arg), void *arg);

/*
 * Revoke a token id (or a token's digest, for tokens without one) in a
 * transaction of its own, which a refusal's rollback does not undo: a
 * background worker commits it while the caller waits.  exp < 0: unknown.
 */
extern bool jwt_transport_revoke_exposed(const char *jti, double exp);

/* The settings the PostgREST helper applies. */
extern bool jwt_transport_forwarded_https_required(void);
extern bool jwt_transport_revoke_exposed_enabled(void);
/* Whether an X-Forwarded-Proto value says HTTPS on every hop. */
extern bool jwt_transport_forwarded_https(const char *value);

#endif
