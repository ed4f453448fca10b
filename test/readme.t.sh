#!/usr/bin/env bash
# A README that runs (issue 16): every ```sql block of README.md, in order, in one psql
# session as a superuser, in a database of its own named app (the README's examples say
# ALTER DATABASE app ...), after test/readme_preamble.sql; the results the README shows in
# "-->" comments are compared with what psql prints (test/readme.py says how). A failure
# names the block and the line of README.md, with the README's and psql's text.
# The keys the preamble reads are made here with openssl; roles the README creates are
# dropped at exit with the database. test/readme_fixture.md checks the comparison first.
# JWT_README=other.md runs another file the same way.
set -euo pipefail
cd "$(dirname "$0")/.."
. test/suite.sh
use_cluster
export PATH="$PGBIN:$PATH"

KEYS=$(mktemp -d /tmp/jwt-readme.XXXXXX)
remove_at_exit "$KEYS"
export JWT_README_KEYS=$KEYS
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$KEYS/rsa_private.pem" 2>/dev/null
openssl pkey -in "$KEYS/rsa_private.pem" -pubout -out "$KEYS/rsa_public.pem"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$KEYS/rsa_enc.pem" 2>/dev/null
openssl genpkey -algorithm ed25519 -out "$KEYS/ed25519_private.pem"
openssl pkey -in "$KEYS/ed25519_private.pem" -pubout -out "$KEYS/ed25519_public.pem"
# the identity provider's JWKS: its RSA signing key (kid idp-2026) and an encryption key
modulus() {   # base64url of an RSA key's modulus
    openssl rsa -in "$1" -noout -modulus 2>/dev/null | sed 's/^Modulus=//' |
        /usr/bin/python3 -c 'import base64,sys; print(base64.urlsafe_b64encode(bytes.fromhex(sys.stdin.read().strip())).decode().rstrip("="))'
}
printf '{"keys":[{"kty":"RSA","kid":"idp-2026","use":"sig","alg":"RS256","e":"AQAB","n":"%s"},{"kty":"RSA","kid":"idp-enc","use":"enc","e":"AQAB","n":"%s"}]}' \
    "$(modulus "$KEYS/rsa_private.pem")" "$(modulus "$KEYS/rsa_enc.pem")" >"$KEYS/provider_jwks.json"

# The database and the roles the README creates go at exit (roles after the database,
# whose objects they may own).
ROLES_BEFORE=$("$PGBIN/psql" -X -A -t -d postgres -c "SELECT string_agg(quote_literal(rolname), ',') FROM pg_roles")
readme_cleanup() {
    "$PGBIN/psql" -X -q -d postgres -c "DROP DATABASE IF EXISTS app WITH (FORCE)" >/dev/null 2>&1 || true
    "$PGBIN/psql" -X -q -A -t -d postgres -c \
        "SELECT format('DROP ROLE %I;', rolname) FROM pg_roles WHERE rolname NOT IN ($ROLES_BEFORE)" 2>/dev/null |
        "$PGBIN/psql" -X -q -d postgres >/dev/null 2>&1 || true
}
at_exit readme_cleanup
PGOPTIONS="-c client_min_messages=warning" "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d postgres -c "DROP DATABASE IF EXISTS app" -c "CREATE DATABASE app" >/dev/null

# The comparison itself, on test/readme_fixture.md: each block must pass or fail as its
# heading says, in a database of its own.
PGOPTIONS="-c client_min_messages=warning" "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d postgres -c "DROP DATABASE IF EXISTS readme_selftest" \
    -c "CREATE DATABASE readme_selftest" >/dev/null
drop_at_exit "DROP DATABASE IF EXISTS readme_selftest"
selftest=$(PGDATABASE=readme_selftest /usr/bin/python3 test/readme.py test/readme_fixture.md test/readme_preamble.sql || true)
got=$(sed -n 's/^ok - .*(\(passes\|fails\):.*/\1 ok/p; s/^not ok - .*(\(passes\|fails\):.*/\1 not ok/p' <<<"$selftest" |
      sed 's/^passes ok$/as its heading says/; s/^fails not ok$/as its heading says/' | sort | uniq -c | sed 's/^ *//')
check "test/readme.py passes and fails the blocks of test/readme_fixture.md as their headings say" "$got" "11 as its heading says"
# shellcheck disable=SC2001
if [ "$got" != "11 as its heading says" ]; then sed 's/^/#   /' <<<"$selftest"; fi

while IFS= read -r line; do
    case $line in
        "ok - "*) ok "${line#ok - }" ;;
        "not ok - "*) notok "${line#not ok - }" ;;
        "readme.py exit 0") ;;
        "readme.py exit "*) notok "test/readme.py ran to the end (${line#readme.py })" ;;
        *) echo "$line" ;;
    esac
done < <(PGDATABASE=app /usr/bin/python3 test/readme.py "${JWT_README:-README.md}" test/readme_preamble.sql; echo "readme.py exit $?")
readme_cleanup
check "the database app and the roles the README created are dropped" \
    "$("$PGBIN/psql" -X -A -t -d postgres -c "SELECT count(*) FROM pg_database WHERE datname = 'app'") $("$PGBIN/psql" -X -A -t -d postgres -c "SELECT string_agg(rolname, ' ') FROM pg_roles WHERE rolname NOT IN ($ROLES_BEFORE)")" \
    "0 "
finish
