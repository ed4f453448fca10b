/*
 * issuers.h - the identity-provider concern's SQL layer (issuers.c)
 */
#ifndef JWT_ISSUERS_H
#define JWT_ISSUERS_H

extern void jwt_issuers_init(void);

#endif
