/*
 * oauth_client.c - a libpq 18 client that logs in with the bearer token in
 * $OAUTH_TOKEN (the PQAUTHDATA_OAUTH_BEARER_TOKEN hook: no OAuth flow, no
 * network), runs one query and prints its rows, one value a line.
 * Usage: OAUTH_TOKEN=... oauth_client CONNINFO SQL
 * Exit status 0 on success; 1 with libpq's message on stderr otherwise.
 */
#include <stdio.h>
#include <stdlib.h>

#include "libpq-fe.h"

static int
token_hook(PGauthData type, PGconn *conn, void *data)
{
	if (type == PQAUTHDATA_OAUTH_BEARER_TOKEN)
	{
		PGoauthBearerRequest *req = data;

		/* the environment's string outlives the connection: no cleanup needed */
		req->token = getenv("OAUTH_TOKEN");
		return req->token != NULL ? 1 : -1;
	}
	return PQdefaultAuthDataHook(type, conn, data);
}

int
main(int argc, char **argv)
{
	PGconn	   *conn;
	PGresult   *res;

	if (argc != 3)
	{
		fprintf(stderr, "usage: OAUTH_TOKEN=... %s CONNINFO SQL\n", argv[0]);
		return 2;
	}
	PQsetAuthDataHook(token_hook);
	conn = PQconnectdb(argv[1]);
	if (PQstatus(conn) != CONNECTION_OK)
	{
		fprintf(stderr, "%s", PQerrorMessage(conn));
		PQfinish(conn);
		return 1;
	}
	res = PQexec(conn, argv[2]);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		fprintf(stderr, "%s", PQerrorMessage(conn));
		PQclear(res);
		PQfinish(conn);
		return 1;
	}
	for (int i = 0; i < PQntuples(res); i++)
		for (int j = 0; j < PQnfields(res); j++)
			printf("%s\n", PQgetisnull(res, i, j) ? "" : PQgetvalue(res, i, j));
	PQclear(res);
	PQfinish(conn);
	return 0;
}
