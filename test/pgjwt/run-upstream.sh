#!/usr/bin/env bash
# Run pgjwt's own pgTAP suite (its test/test.sql, unchanged) against the pgjwt
# drop-in of this extension, the way an application would switch: in a database
# where jwt is installed, with search_path = pgjwt, public.
#
#   test/pgjwt/run-upstream.sh /path/to/pgjwt/test/test.sql
#
# Connects with the usual PG* environment variables, as a superuser (the suite
# drops and creates the extensions pgcrypto, pgtap and pgjwt), to a server where
# jwt (make install) and pgTAP (Debian: postgresql-15-pgtap) are installed.
# Works in a database of its own, created with CREATE EXTENSION jwt and dropped
# at the end, so the suite's DROP EXTENSION statements touch nothing of yours.
# Prints the TAP output; exits 0 when the plan was met and every test passed.
set -euo pipefail

FILE=${1:?usage: $0 PGJWT_TEST_SQL_FILE}
[ -r "$FILE" ] || { echo "cannot read $FILE" >&2; exit 2; }
DB=pgjwt_upstream_$$
PSQL=(psql -X -q -v ON_ERROR_STOP=1)

"${PSQL[@]}" -d postgres -c "CREATE DATABASE $DB" >/dev/null
drop_db() { "${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true; }
trap drop_db EXIT
"${PSQL[@]}" -d "$DB" -c "CREATE EXTENSION jwt" >/dev/null

# The file unchanged; psql reads it from stdin so that its \set lines apply as written.
rc=0
out=$(PGOPTIONS="${PGOPTIONS:-} -c search_path=pgjwt,public" \
      psql -X -d "$DB" -f - <"$FILE" 2>&1) || rc=$?
printf '%s\n' "$out"

plan=$(sed -n 's/^1\.\.\([0-9][0-9]*\)$/\1/p' <<<"$out" | head -n 1)
oks=$(grep -c '^ok [0-9]' <<<"$out" || true)
notoks=$(grep -c '^not ok' <<<"$out" || true)
if [ "$rc" -ne 0 ]; then
    echo "# psql failed (exit $rc)" >&2; exit 1
elif [ -z "$plan" ]; then
    echo "# no TAP plan in the output" >&2; exit 1
elif [ "$notoks" -ne 0 ] || [ "$oks" -ne "$plan" ]; then
    echo "# $oks of $plan tests passed" >&2; exit 1
fi
echo "# all $plan tests of $(basename "$FILE") passed against the pgjwt drop-in"
