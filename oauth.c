/*
 * oauth.c - PostgreSQL 18's OAuth validator (oauth_validator_libraries =
 * 'jwt'): clients log in with a bearer token (SASL OAUTHBEARER)
 *
 * The validator runs during authentication, inside the startup transaction
 * but before the backend has connected to a database: the keyring and the
 * revocation lists, which are tables of one database, cannot be read there.
 * So the login is checked in two steps, and the session is only usable once
 * both have passed:
 *
 *  1. validate_cb (no database): the signature with the keys of a file the
 *     superuser names (jwt.oauth_keys_file), the claim policy of
 *     jwt_authenticate() (exp required, leeway, jwt.audience, lifetime), the
 *     token's iss equal to pg_hba.conf's issuer=, the scopes of pg_hba.conf's
 *     scope=, and the identity (jwt.oauth_identity_claim) that pg_ident.conf
 *     maps, or with delegate_ident_mapping=1 the role claim (jwt.role_claim)
 *     naming the requested role.  PostgreSQL itself checks neither issuer
 *     nor scope: it only sends them to the client for discovery.
 *  2. at the commit of that same startup transaction (XACT_EVENT_PRE_COMMIT),
 *     after InitPostgres has connected to the database and before the
 *     backend reads its first query: exactly what jwt_authenticate() checks
 *     (the keyring with its key states and issuer bindings, jwt.issuer,
 *     revocation by jti, subject and session, the transport rule); then the
 *     token's claims become the session's identity (jwt_claims()).  Any
 *     failure there is FATAL: the connection ends before any query runs.
 *
 * Nothing here does network I/O, and no message holds the token.
 */
#include "postgres.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fmgr.h"
#include "utils/guc.h"

#include "oauth_validator.h"

#if PG_VERSION_NUM >= 180000

#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "libpq/libpq-be.h"
#include "libpq/oauth.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "storage/proc.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc_tables.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "varatt.h"

#include "crypto.h"
#include "dpop_replay.h"
#include "identity.h"
#include "oauth_scope.h"
#include "roleclaim.h"
#include "transport.h"
#include "jwt_sql.h"

/* SQLSTATEs of refusals that are the login's own (the token's are jwt's) */
#define OAUTH_ERR_SCOPE			MAKE_SQLSTATE('2', '8', 'J', 'O', '1')
#define OAUTH_ERR_IDENTITY		MAKE_SQLSTATE('2', '8', 'J', 'O', '2')
#define OAUTH_ERR_ROLE			MAKE_SQLSTATE('2', '8', 'J', 'O', '3')
#define OAUTH_ERR_NO_DATABASE	MAKE_SQLSTATE('2', '8', 'J', 'O', '4')
#define OAUTH_ERR_CLIENT_SETTING	MAKE_SQLSTATE('2', '8', 'J', 'O', '5')

/* An identity is a name (an e-mail address is at most 254 bytes) */
#define OAUTH_IDENTITY_MAX		512

/* A JWKS is a few kilobytes; a file much larger is not one. */
#define OAUTH_KEYS_FILE_MAX		(1024 * 1024)

static char *oauth_keys_file = NULL;
static char *oauth_identity_claim = NULL;

/* The token that authenticated, until the database checks have passed. */
static char *pending_token = NULL;
static LocalTransactionId pending_lxid = InvalidLocalTransactionId;
static bool callback_registered = false;

static bool oauth_validate(const ValidatorModuleState *state, const char *token,
						   const char *role, ValidatorModuleResult *result);
static void oauth_xact_callback(XactEvent event, void *arg);

static const OAuthValidatorCallbacks oauth_callbacks = {
	.magic = PG_OAUTH_VALIDATOR_MAGIC,
	.validate_cb = oauth_validate,
};

/* PostgreSQL 18 loads the validator by this symbol. */
const OAuthValidatorCallbacks *
_PG_oauth_validator_module_init(void)
{
	return &oauth_callbacks;
}

void
jwt_oauth_init(void)
{
	/*
	 * SIGHUP: the validator runs before per-database and per-role settings
	 * are applied, so only the server configuration can mean anything here.
	 */
	DefineCustomStringVariable("jwt.oauth_keys_file",
							   "JWK, JWKS or PEM file whose keys verify tokens at login (oauth in pg_hba.conf).",
							   "Empty: no token can log in.",
							   &oauth_keys_file, "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY | GUC_NOT_IN_SAMPLE,
							   NULL, NULL, NULL);
	DefineCustomStringVariable("jwt.oauth_identity_claim",
							   "Claim whose string value is the identity pg_ident.conf maps at login.",
							   NULL, &oauth_identity_claim, "sub",
							   PGC_SIGHUP, GUC_NOT_IN_SAMPLE,
							   NULL, NULL, NULL);
}

/* Log why a login token was refused: the reason and its SQLSTATE, never the token. */
static void
refuse(int sqlstate, const char *reason, const char *detail)
{
	ereport(LOG,
			(errcode(sqlstate),
			 errmsg("jwt: OAuth bearer token refused (%s): %s", unpack_sql_state(sqlstate), reason),
			 detail && detail[0] ? errdetail_log("%s", detail) : 0,
			 errhidestmt(true)));
}

/* The keys file's contents, or NULL (logged) when it cannot be used. */
static char *
read_keys_file(size_t *len)
{
	int			fd;
	struct stat st;
	char	   *buf;
	ssize_t		n;

	if (oauth_keys_file == NULL || oauth_keys_file[0] == '\0')
	{
		ereport(LOG,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("jwt: OAuth login refused (F0000): jwt.oauth_keys_file is not set")));
		return NULL;
	}
	fd = OpenTransientFile(oauth_keys_file, O_RDONLY | PG_BINARY);
	if (fd < 0 || fstat(fd, &st) != 0 || st.st_size <= 0 || st.st_size > OAUTH_KEYS_FILE_MAX)
	{
		int			save = errno;

		if (fd >= 0)
			CloseTransientFile(fd);
		errno = save;
		ereport(LOG,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("jwt: OAuth login refused (F0000): cannot use jwt.oauth_keys_file \"%s\"", oauth_keys_file),
				 errdetail("It must be a readable file of 1 byte to 1 MB%s%s.",
						   fd < 0 ? ": " : "", fd < 0 ? strerror(save) : "")));
		return NULL;
	}
	/*
	 * Whoever can write the file chooses the keys logins trust: like
	 * ssl_key_file, it must belong to the server's user or root, and no one
	 * else may write it.
	 */
	if (!S_ISREG(st.st_mode) || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0 ||
		(st.st_uid != geteuid() && st.st_uid != 0))
	{
		CloseTransientFile(fd);
		ereport(LOG,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("jwt: OAuth login refused (F0000): cannot use jwt.oauth_keys_file \"%s\"", oauth_keys_file),
				 errdetail("It must be a regular file owned by the database server's user or root, and writable by no one else.")));
		return NULL;
	}
	buf = palloc(st.st_size + 1);
	n = read(fd, buf, st.st_size);
	CloseTransientFile(fd);
	if (n != st.st_size)
	{
		ereport(LOG,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("jwt: OAuth login refused (F0000): could not read jwt.oauth_keys_file \"%s\"", oauth_keys_file)));
		return NULL;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* Zero a copy of the token before its memory is given back. */
static void
zero_token_copy(VerifyRequest *req, text *arg)
{
	explicit_bzero(VARDATA_ANY(req->token), VARSIZE_ANY_EXHDR(req->token));
	explicit_bzero(VARDATA_ANY(arg), VARSIZE_ANY_EXHDR(arg));
}

/* The string claim name of claims, or NULL. */
static const char *
string_claim(const JsonDoc *claims, const char *name)
{
	const JsonMember *m = json_doc_get(claims, name);

	return (m != NULL && m->value.kind == JK_STRING) ? m->value.str : NULL;
}

/*
 * Whether identity can be the login's authn_id: PostgreSQL writes it into the
 * log as it is ("connection authenticated: identity=..."), so a newline
 * would forge log lines; and an identity is a name, not a document.
 */
static bool
identity_is_loggable(const char *identity)
{
	size_t		len = strlen(identity);

	if (len > OAUTH_IDENTITY_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) identity[i];

		if (c < 0x20 || c == 0x7f)
			return false;
	}
	return true;
}

/* Whether roleid is a superuser or has the privileges of one that reach the server's files or programs. */
static bool
role_is_superuser_equivalent(Oid roleid)
{
	if (!OidIsValid(roleid))
		return false;
	return superuser_arg(roleid) ||
		has_privs_of_role(roleid, ROLE_PG_EXECUTE_SERVER_PROGRAM) ||
		has_privs_of_role(roleid, ROLE_PG_WRITE_SERVER_FILES) ||
		has_privs_of_role(roleid, ROLE_PG_READ_SERVER_FILES);
}

/*
 * Whether the startup packet sets session_preload_libraries, as a parameter
 * or in options (-c name=, --name=; names are case-insensitive and '-' is
 * '_').  The libraries load inside the startup transaction, before step 2.
 */
static bool
startup_loads_libraries(const Port *port)
{
	ListCell   *lc;
	bool		name = true;

	foreach(lc, port->guc_options)
	{
		if (name && pg_strcasecmp((const char *) lfirst(lc), "session_preload_libraries") == 0)
			return true;
		name = !name;
	}
	if (port->cmdline_options != NULL)
	{
		char	   *opts = pstrdup(port->cmdline_options);

		for (char *c = opts; *c; c++)
			*c = (*c == '-') ? '_' : pg_tolower((unsigned char) *c);
		if (strstr(opts, "session_preload_libraries") != NULL)
			return true;
	}
	return false;
}

/*
 * validate_cb: authenticate the token without a database.  Returns false
 * (PostgreSQL logs "internal error in OAuth validator module") only when the
 * configuration makes every login fail; a refused token sets authorized =
 * false and logs its reason.
 */
static bool
oauth_validate(const ValidatorModuleState *state, const char *token,
			   const char *role, ValidatorModuleResult *result)
{
	HbaLine    *hba = MyProcPort ? MyProcPort->hba : NULL;
	VerifyRequest req;
	text	   *arg;
	JwtKeySet	keys;
	JwsToken	tok;
	JsonDoc		claims;
	JwtError	err;
	char	   *text;
	size_t		len = 0;
	const char *identity;
	char	   *missing;

	(void) state;
	result->authorized = false;
	result->authn_id = NULL;

	/*
	 * The database checks run at the commit of the transaction that
	 * authenticates; without one they would wait for the first query's.
	 */
	if (hba == NULL || !IsTransactionState() || MyProc == NULL)
	{
		ereport(LOG,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("jwt: OAuth login refused (XX000): the validator was not called inside the startup transaction")));
		return false;
	}
	if (startup_loads_libraries(MyProcPort))
	{
		refuse(OAUTH_ERR_CLIENT_SETTING, "the connection request sets session_preload_libraries",
			   "A token login may not load code before its database checks have run.");
		return true;
	}
	if ((text = read_keys_file(&len)) == NULL)
		return false;
	memset(&keys, 0, sizeof(keys));
	if (jwt_keyset_parse(text, len, false, CurrentMemoryContext, &keys, &err) != JWT_OK)
	{
		ereport(LOG,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("jwt: OAuth login refused (F0000): jwt.oauth_keys_file \"%s\" holds no usable key", oauth_keys_file),
				 errdetail("%s", err.message)));
		jwt_keyset_free(&keys);
		return false;
	}

	/*
	 * Public keys only: a file that is neither JSON nor PEM would otherwise
	 * be taken for an HMAC secret, and a secret in a file is a key anyone
	 * who reads the file can sign with.  A private key is a signing key left
	 * where only verifying is needed, and checking it (an RSA primality
	 * test) would cost every connection attempt, before authentication.
	 */
	for (int i = 0; i < keys.nkeys; i++)
		if (keys.keys[i].type == JWT_KEY_HMAC || keys.keys[i].has_private)
		{
			ereport(LOG,
					(errcode(ERRCODE_CONFIG_FILE_ERROR),
					 errmsg("jwt: OAuth login refused (F0000): jwt.oauth_keys_file \"%s\" holds no usable key", oauth_keys_file),
					 errdetail("It must hold public keys (a JWKS, a JWK or PEM); it holds a private or secret (HMAC) key, or text that is neither.")));
			jwt_keyset_free(&keys);
			return false;
		}

	/* jwt_authenticate()'s policy, with the file's keys, bound to pg_hba.conf's issuer */
	arg = cstring_to_text(token);
	jwt_authentication_request(&req, arg);
	req.keys = &keys;
	/* the token is wiped after use: the token cache must keep no copy of it */
	req.no_token_cache = true;
	req.check_revoked = false;	/* the lists are in the database: step 2 */
	req.rules.issuer = hba->oauth_issuer;
	/* one issuer, compared whole: not a jwt.issuer list split at its commas */
	req.rules.issuer_exact = true;
	if (jwt_verify_request(&req, &tok, &claims, &err) != JWT_OK)
	{
		jwt_keyset_free(&keys);
		zero_token_copy(&req, arg);
		refuse(jwt_status_sqlstate(err.status), err.message, err.detail);
		return true;
	}
	/*
	 * A token bound to a key (cnf) is no bearer token (RFC 9449 section 7.1):
	 * OAUTHBEARER carries no proof of possession, so a thief could log in
	 * with it.  Refused as jwt_authenticate refuses it under "Bearer".
	 */
	if (json_doc_get(&claims, "cnf") != NULL &&
		jwt_dpop_check_binding(&claims, VARDATA_ANY(req.token), VARSIZE_ANY_EXHDR(req.token),
							   JWT_AUTH_SCHEME_BEARER, NULL, NULL, NULL, &err) != JWT_OK)
	{
		jwt_keyset_free(&keys);
		zero_token_copy(&req, arg);
		refuse(jwt_status_sqlstate(err.status), err.message, err.detail);
		return true;
	}
	jwt_keyset_free(&keys);
	/* the claims are parsed from the decoded payload, not from these */
	zero_token_copy(&req, arg);

	if (!jwt_oauth_scopes_granted(&claims, hba->oauth_scope, &missing))
	{
		char	   *detail = psprintf("pg_hba.conf requires the scope \"%s\", which the token's \"scope\" claim does not grant.",
									  missing);

		refuse(OAUTH_ERR_SCOPE, "token lacks a required scope", detail);
		return true;
	}

	identity = string_claim(&claims, oauth_identity_claim);
	if (identity == NULL || identity[0] == '\0')
	{
		char	   *detail = psprintf("jwt.oauth_identity_claim names the claim \"%s\", which must be a non-empty string.",
									  oauth_identity_claim);

		refuse(OAUTH_ERR_IDENTITY, "token has no identity claim", detail);
		return true;
	}
	if (!identity_is_loggable(identity))
	{
		/* PostgreSQL logs the identity verbatim (log_connections): never forward it */
		refuse(OAUTH_ERR_IDENTITY, "token's identity claim cannot be an identity",
			   psprintf("The claim \"%s\" holds a control character or more than %d bytes.",
						oauth_identity_claim, OAUTH_IDENTITY_MAX));
		return true;
	}

	if (hba->oauth_skip_usermap)
	{
		/*
		 * delegate_ident_mapping: the token itself must name the role asked
		 * for, found as jwt_authenticate() finds it (jwt.role_claim's path)
		 */
		const char *role_claim = jwt_identity_role_claim();
		const char *named = NULL;

		if (role_claim != NULL)
			named = jwt_role_claim_value(DatumGetJsonbP(jwt_json_text_to_jsonb(tok.payload, tok.payload_len)),
										 role_claim);

		if (named == NULL || strcmp(named, role) != 0)
		{
			/* the identity is verified: log it, so that the refusal can be traced */
			result->authn_id = pstrdup(identity);
			refuse(OAUTH_ERR_ROLE, "token does not name the requested role",
				   role_claim == NULL
				   ? "delegate_ident_mapping is set in pg_hba.conf but jwt.role_claim is empty."
				   : psprintf("With delegate_ident_mapping, the claim \"%s\" must name the role \"%s\".",
							  role_claim, role));
			return true;
		}

		/*
		 * The token names the role: a superuser would be whoever the token
		 * issuer says, on a pg_hba.conf line that reads "all" users.  A
		 * superuser logs in with a token only through an explicit
		 * pg_ident.conf mapping.  pg_authid is shared: readable here.
		 */
		if (role_is_superuser_equivalent(get_role_oid(role, true)))
		{
			result->authn_id = pstrdup(identity);
			refuse(OAUTH_ERR_ROLE, "delegate_ident_mapping does not log in a superuser",
				   psprintf("The role \"%s\" is a superuser or has the privileges of pg_execute_server_program, pg_write_server_files or pg_read_server_files; map a token identity to it in pg_ident.conf instead.",
							role));
			return true;
		}
	}

	/* step 2 needs the token itself: keep it only until then */
	if (pending_token != NULL)
	{
		explicit_bzero(pending_token, strlen(pending_token));
		pfree(pending_token);
	}
	pending_token = MemoryContextStrdup(TopMemoryContext, token);
	pending_lxid = MyProc->vxid.lxid;
	if (!callback_registered)
	{
		RegisterXactCallback(oauth_xact_callback, NULL);
		callback_registered = true;
	}

	result->authn_id = pstrdup(identity);
	result->authorized = true;
	return true;
}

/* Forget the login token. */
static void
forget_token(void)
{
	if (pending_token != NULL)
	{
		explicit_bzero(pending_token, strlen(pending_token));
		pfree(pending_token);
		pending_token = NULL;
	}
}

/*
 * Step 2, once the database is connected: what jwt_authenticate() checks,
 * then the claims become the session's identity.  Every error is FATAL.
 */
static void
complete_login(void)
{
	VerifyRequest req;
	text	   *arg;
	JwsToken	tok;
	JsonDoc		claims;
	JwtError	err;
	Jsonb	   *jb;
	bool		save_exit = ExitOnAnyError;

	/* whatever raises below (the keyring, a missing extension) ends the connection */
	ExitOnAnyError = true;

	if (MyProc->vxid.lxid != pending_lxid)
	{
		forget_token();
		ereport(FATAL,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("jwt: OAuth login not checked in the transaction that authenticated")));
	}
	if (!OidIsValid(MyDatabaseId))
	{
		forget_token();
		refuse(OAUTH_ERR_NO_DATABASE, "a token login needs a database",
			   "Revocation and the keyring are checked in the database; a physical replication connection has none.");
		ereport(FATAL,
				(errcode(OAUTH_ERR_NO_DATABASE),
				 errmsg("a token login needs a database connection")));
	}

	/*
	 * Step 2 reads the settings of the database and role, not the client's:
	 * a superuser's startup packet (options=-c jwt.audience=...) is applied
	 * before this commit and would override them.
	 */
	{
		int			nvars;
		struct config_generic **vars = get_guc_variables(&nvars);

		for (int i = 0; i < nvars; i++)
			if (vars[i]->source == PGC_S_CLIENT &&
				(pg_strncasecmp(vars[i]->name, "jwt.", 4) == 0 ||
				 pg_strcasecmp(vars[i]->name, "session_preload_libraries") == 0))
			{
				forget_token();
				refuse(OAUTH_ERR_CLIENT_SETTING, "the connection request sets a jwt setting",
					   psprintf("The startup packet sets \"%s\"; a token login takes its settings from the server only.",
								vars[i]->name));
				ereport(FATAL,
						(errcode(OAUTH_ERR_CLIENT_SETTING),
						 errmsg("a token login cannot set \"%s\" in the connection request", vars[i]->name)));
			}
	}

	arg = cstring_to_text(pending_token);
	forget_token();
	jwt_authentication_request(&req, arg);
	req.no_token_cache = true;
	jwt_transport_check(jwt_revoke_exposed_token, &req);
	if (jwt_verify_request(&req, &tok, &claims, &err) != JWT_OK)
	{
		zero_token_copy(&req, arg);
		refuse(jwt_status_sqlstate(err.status), err.message, err.detail);
		ereport(FATAL,
				(errcode(jwt_status_sqlstate(err.status)),
				 errmsg("%s", err.message),
				 err.detail[0] ? errdetail("%s", err.detail) : 0));
	}
	jb = DatumGetJsonbP(jwt_json_text_to_jsonb(tok.payload, tok.payload_len));
	zero_token_copy(&req, arg);
	jwt_identity_set_login(JsonbToCString(NULL, &jb->root, VARSIZE(jb)));

	ExitOnAnyError = save_exit;
}

/* Step 2 runs as the startup transaction commits; an abort forgets the token. */
static void
oauth_xact_callback(XactEvent event, void *arg)
{
	(void) arg;
	if (pending_token == NULL)
		return;
	if (event == XACT_EVENT_PRE_COMMIT)
		complete_login();
	else if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
		forget_token();
}

#else							/* PG_VERSION_NUM < 180000 */

/* No OAuth before PostgreSQL 18: nothing to set up. */
void
jwt_oauth_init(void)
{
}

#endif
