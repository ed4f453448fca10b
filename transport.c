/*
 * transport.c - SQL entry points of the transport rule (src/transport.c)
 */
#include "postgres.h"

#include <netinet/in.h>

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/inet.h"
#if PG_VERSION_NUM >= 160000
/* inet.h's ip_family() expands to VARDATA_ANY, which 16 moved here */
#include "varatt.h"
#endif

#include "transport.h"

/*
 * _jwt_transport_allowed(mode text, unix_socket boolean, tls boolean, client inet)
 * RETURNS boolean: the rule jwt_authenticate() applies to its own connection,
 * for any connection, so that tests can show it for addresses they cannot use.
 */
PG_FUNCTION_INFO_V1(jwt_transport_allowed_sql);
Datum
jwt_transport_allowed_sql(PG_FUNCTION_ARGS)
{
	char	   *mode_name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	bool		unix_socket = PG_GETARG_BOOL(1);
	bool		tls = PG_GETARG_BOOL(2);
	struct sockaddr_storage ss;
	JwtTransportMode mode;

	if (strcmp(mode_name, "off") == 0)
		mode = JWT_TRANSPORT_OFF;
	else if (strcmp(mode_name, "remote") == 0)
		mode = JWT_TRANSPORT_REMOTE;
	else if (strcmp(mode_name, "always") == 0)
		mode = JWT_TRANSPORT_ALWAYS;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("mode must be off, remote or always")));

	memset(&ss, 0, sizeof(ss));
	if (!PG_ARGISNULL(3))
	{
		inet	   *client = PG_GETARG_INET_PP(3);

		if (ip_family(client) == PGSQL_AF_INET)
		{
			struct sockaddr_in *in = (struct sockaddr_in *) &ss;

			in->sin_family = AF_INET;
			memcpy(&in->sin_addr, ip_addr(client), 4);
		}
		else
		{
			struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) &ss;

			in6->sin6_family = AF_INET6;
			memcpy(&in6->sin6_addr, ip_addr(client), 16);
		}
	}
	PG_RETURN_BOOL(jwt_transport_allowed(mode, unix_socket, tls,
										 PG_ARGISNULL(3) ? NULL : (struct sockaddr *) &ss));
}

/*
 * _jwt_forwarded_https_ok(x_forwarded_proto text) RETURNS boolean: false when
 * jwt.require_forwarded_https is on and the value is not https on every hop.
 * The setting is read here, in C, once the library is loaded: a placeholder a
 * session set before cannot stand in for it.
 */
PG_FUNCTION_INFO_V1(jwt_forwarded_https_ok);
Datum
jwt_forwarded_https_ok(PG_FUNCTION_ARGS)
{
	if (!jwt_transport_forwarded_https_required())
		PG_RETURN_BOOL(true);
	PG_RETURN_BOOL(jwt_transport_forwarded_https(PG_ARGISNULL(0) ? NULL
												 : text_to_cstring(PG_GETARG_TEXT_PP(0))));
}
