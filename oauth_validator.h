/*
 * oauth_validator.h - PostgreSQL 18's OAuth validator (oauth.c)
 */
#ifndef JWT_OAUTH_VALIDATOR_H
#define JWT_OAUTH_VALIDATOR_H

/* Its settings (jwt.oauth_*), from _PG_init; nothing before PostgreSQL 18. */
extern void jwt_oauth_init(void);

#endif
