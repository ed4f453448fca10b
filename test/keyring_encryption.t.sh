#!/usr/bin/env bash
# Envelope encryption of the keyring: with jwt.key_encryption_key set (and jwt
# preloaded, which keeps the setting hidden), private material is stored sealed
# with AES-256-GCM, a dump holds only ciphertext, and the keys still sign and
# verify in new sessions.  Starts its own cluster: it needs a restart setting.
set -euo pipefail
cd "$(dirname "$0")/.."
. test/suite.sh
own_cluster "-c shared_preload_libraries=jwt"

q() { psql -X -A -t -q -v ON_ERROR_STOP=1 -c "$1"; }
sqlstate() { psql -X -A -t -q -c '\set VERBOSITY sqlstate' -c "$1" 2>&1 | grep -o '[0-9A-Z]\{5\}' | tail -n 1; }
set_kek() { q "ALTER SYSTEM $1" && q "SELECT pg_reload_conf()" >/dev/null && sleep 0.5; }
kek=$(openssl rand -hex 32)
q "CREATE EXTENSION jwt"

# the file form keeps the key out of the server log (a reload logs new values)
kek_file="$CLUSTER_DIR/jwt.kek"
echo "$kek" >"$kek_file"
chmod 600 "$kek_file"
[ "$(id -u)" = 0 ] && chown "${JWT_SERVER_USER:-postgres}" "$kek_file"
set_kek "SET jwt.key_encryption_key = 'file:$kek_file'"
q "CREATE ROLE regress_kek_viewer"
check "non-superusers cannot see the setting" \
    "$(sqlstate "SET ROLE regress_kek_viewer; SHOW jwt.key_encryption_key")" "42501"
check "nor list it" \
    "$(q "SET ROLE regress_kek_viewer; SELECT count(*) FROM pg_settings WHERE name = 'jwt.key_encryption_key' AND setting <> ''")" "0"

check "keys generated" \
    "$(q "SELECT jwt_generate_key('ES256', 'sealed-es')") $(q "SELECT jwt_generate_key('HS256', 'sealed-hs')")" "sealed-es sealed-hs"
check "stored sealed" \
    "$(q "SELECT count(*) FROM jwt_keys WHERE substring(private_key from 1 for 8) = 'JWTKEK1:'::bytea")" "2"
check "no PEM in the table" \
    "$(q "SELECT count(*) FROM jwt_keys WHERE position('PRIVATE KEY'::bytea in private_key) > 0")" "0"

token=$(q "SELECT jwt_sign('{\"sub\":\"sealed\"}', header => '{\"kid\":\"sealed-es\"}')")
token_hs=$(q "SELECT jwt_sign('{\"sub\":\"sealed-hs\"}', header => '{\"kid\":\"sealed-hs\"}')")
check "a new session verifies" "$(q "SELECT jwt_verify('$token') ->> 'sub'")" "sealed"
check "the hmac key verifies" "$(q "SELECT jwt_verify('$token_hs') ->> 'sub'")" "sealed-hs"

dump=$(pg_dump -Fp -a -t jwt_keys postgres)
check "the dump has the rows" "$(grep -q 'sealed-es' <<<"$dump" && echo yes || echo no)" "yes"
check "the dump holds no private key" "$(grep -q 'PRIVATE KEY' <<<"$dump" && echo yes || echo no)" "no"

# a sealed value moved to another row does not open: the kid is bound in
q "UPDATE jwt_keys SET private_key = (SELECT private_key FROM jwt_keys WHERE kid = 'sealed-hs') WHERE kid = 'sealed-es'"
check "moved ciphertext cannot sign" "$(sqlstate "SELECT jwt_sign('{}', header => '{\"kid\":\"sealed-es\"}')")" "22023"

# without the key-encryption key the sealed keys cannot be used, and say why
set_kek "RESET jwt.key_encryption_key"
out=$(psql -X -A -t -q -c "SELECT jwt_is_valid('$token_hs')" 2>&1)
check "without the KEK: not valid" "$(tail -n 1 <<<"$out")" "f"
check "without the KEK: a warning says why" \
    "$(grep -q 'encrypted and jwt.key_encryption_key is not set' <<<"$out" && echo yes || echo no)" "yes"

# the key itself never reaches the server log or a client message
check "the KEK is not in the server log" "$(grep -qi "$kek" "$CLUSTER_DIR/server.log" && echo yes || echo no)" "no"
# a malformed KEK file is refused without echoing its contents
echo "not-hex-$kek" >"$kek_file"
set_kek "SET jwt.key_encryption_key = 'file:$kek_file'"
out=$(psql -X -A -t -q -c "SELECT jwt_generate_key('ES256')" 2>&1 || true)
check "malformed KEK refused" "$(grep -q 'must be 64 hexadecimal digits' <<<"$out" && echo yes || echo no)" "yes"
check "and not echoed" "$(grep -qi "$kek" <<<"$out" && echo yes || echo no)" "no"

finish
