/*
 * error.c - recording core failures
 */
#include "postgres.h"

#include "jwt_error.h"

JwtStatus
jwt_fail(JwtError *err, JwtStatus status, const char *fmt,...)
{
	va_list		args;

	err->status = status;
	va_start(args, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, args);
	va_end(args);
	err->detail[0] = '\0';
	return status;
}

void
jwt_fail_detail(JwtError *err, const char *fmt,...)
{
	va_list		args;

	va_start(args, fmt);
	vsnprintf(err->detail, sizeof(err->detail), fmt, args);
	va_end(args);
}

/*
 * Copy untrusted text (an alg name, a kid) for a message: printable ASCII
 * only, cut to fit, so a token cannot put bytes of its choice into a log line.
 */
const char *
jwt_printable(const char *s, char *buf, size_t size)
{
	size_t		i = 0;

	for (; s[i] != '\0' && i + 4 < size; i++)
		buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (s[i] != '\0')
	{
		memcpy(buf + i, "...", 3);
		i += 3;
	}
	buf[i] = '\0';
	return buf;
}
