#!/usr/bin/env bash
# Envelope encryption of the keyring: with jwt.key_encryption_key set (and jwt
# preloaded, which keeps the setting hidden), private material is stored sealed
# with AES-256-GCM, a dump holds only ciphertext, and the keys still sign and
# verify in new sessions.  Each sealed value is bound to its row (kid, alg,
# kty, created_at): moved to another row, or rolled back into a newer row of
# the same kid, it does not open.  Values sealed by 0.1.0 (bound to the kid
# only) still open, and jwt_seal_keys() reseals them and plain ones.  The KEK
# file holds the key and trailing whitespace, nothing else; a key that the KEK
# does not open is 55J01, naming its kid.
# Starts its own cluster: it needs a restart setting.
set -euo pipefail
cd "$(dirname "$0")/.."
. test/suite.sh
own_cluster "-c shared_preload_libraries=jwt"

q() { psql -X -A -t -q -v ON_ERROR_STOP=1 -c "$1"; }
sqlstate() { psql -X -A -t -q -c '\set VERBOSITY sqlstate' -c "$1" 2>&1 | grep -o '[0-9A-Z]\{5\}' | tail -n 1; }
# set_kek 'SET ...' | 'RESET ...': change the setting and wait until new sessions have it
# (pg_reload_conf only signals the postmaster; a fixed sleep would race with it).
set_kek() {
    local before
    before=$(q "SELECT pg_conf_load_time()")
    q "ALTER SYSTEM $1" && q "SELECT pg_reload_conf()" >/dev/null
    for _ in $(seq 100); do
        [ "$(q "SELECT pg_conf_load_time() > '$before'")" = t ] && return 0
        sleep 0.1
    done
    echo "# the server did not reload its configuration within 10 s" >&2; return 1
}
kek=$(openssl rand -hex 32)
q "CREATE EXTENSION jwt"
# before any key-encryption key: a plain key, and a database still at 0.1.0
q "SELECT jwt_generate_key('HS256', 'plain-hs')" >/dev/null
token_plain=$(q "SELECT jwt_sign('{\"sub\":\"plain\"}', header => '{\"kid\":\"plain-hs\"}')")
q "CREATE DATABASE old_db"
qo() { psql -X -A -t -q -v ON_ERROR_STOP=1 -d old_db -c "$1"; }
qo "CREATE EXTENSION jwt VERSION '0.1.0'"

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
check "stored sealed, bound to the row (format 2)" \
    "$(q "SELECT count(*) FROM jwt_keys WHERE substring(private_key from 1 for 8) = 'JWTKEK2:'::bytea")" "2"
check "no PEM in the table" \
    "$(q "SELECT count(*) FROM jwt_keys WHERE position('PRIVATE KEY'::bytea in private_key) > 0")" "0"

token=$(q "SELECT jwt_sign('{\"sub\":\"sealed\"}', header => '{\"kid\":\"sealed-es\"}')")
token_hs=$(q "SELECT jwt_sign('{\"sub\":\"sealed-hs\"}', header => '{\"kid\":\"sealed-hs\"}')")
check "a new session verifies" "$(q "SELECT jwt_verify('$token') ->> 'sub'")" "sealed"
check "the hmac key verifies" "$(q "SELECT jwt_verify('$token_hs') ->> 'sub'")" "sealed-hs"

dump=$(pg_dump -Fp -a -t jwt_keys postgres)
check "the dump has the rows" "$(grep -q 'sealed-es' <<<"$dump" && echo yes || echo no)" "yes"
check "the dump holds no private key" "$(grep -q 'PRIVATE KEY' <<<"$dump" && echo yes || echo no)" "no"
# restored elsewhere, the row-bound envelopes still open: created_at survives the dump exactly
pg_dump -Fc -f "$CLUSTER_DIR/keys.dump" postgres
q "CREATE DATABASE restored"
PGTZ=Asia/Kathmandu pg_restore --exit-on-error -d restored "$CLUSTER_DIR/keys.dump"
check "restored under another TimeZone: a sealed key verifies" \
    "$(PGTZ=Asia/Kathmandu psql -X -A -t -q -d restored -c "SELECT jwt_verify('$token') ->> 'sub'")" "sealed"
check "restored: a sealed key signs" \
    "$(psql -X -A -t -q -d restored -c "SELECT jwt_verify(jwt_sign('{\"sub\":\"r\"}', header => '{\"kid\":\"sealed-hs\"}')) ->> 'sub'")" "r"

# --- item 23: a plain private key while a KEK is set is warned about, and sealed on request ---
out=$(psql -X -A -t -q -c "SELECT jwt_verify('$token_plain') ->> 'sub'" 2>&1)
check "a plain key still verifies" "$(tail -n 1 <<<"$out")" "plain"
check "with a warning that it is not sealed" \
    "$(grep -q 'key "plain-hs" in the jwt keyring is stored unencrypted although jwt.key_encryption_key is set' <<<"$out" && echo yes || echo no)" "yes"
check "jwt_seal_keys() seals it (and only it)" "$(q "SELECT jwt_seal_keys()")" "1"
check "now stored sealed" "$(q "SELECT substring(private_key from 1 for 8) = 'JWTKEK2:'::bytea FROM jwt_keys WHERE kid = 'plain-hs'")" "t"
out=$(psql -X -A -t -q -c "SELECT jwt_verify('$token_plain') ->> 'sub'" 2>&1)
check "the sealed key verifies, without a warning" "$out" "plain"
check "jwt_seal_keys() again: nothing to do" "$(q "SELECT jwt_seal_keys()")" "0"

# --- item 23: envelopes of 0.1.0 (bound to the kid only) still open after the update ---
qo "SELECT jwt_generate_key('HS256', 'v1-hs')" >/dev/null
qo "SELECT jwt_generate_key('ES256', 'v1-es')" >/dev/null
check "0.1.0 sealed its keys in format 1" \
    "$(qo "SELECT count(*) FROM jwt_keys WHERE substring(private_key from 1 for 8) = 'JWTKEK1:'::bytea")" "2"
token_v1=$(qo "SELECT jwt_sign('{\"sub\":\"v1\"}', header => '{\"kid\":\"v1-es\"}')" 2>/dev/null)
# item 20 on the upgrade path: 0.1.0 imported a provider's secret with its JWKS
qo "SELECT jwt_import_jwks('{\"keys\":[{\"kty\":\"oct\",\"kid\":\"idp-oct\",\"k\":\"$(openssl rand 32 | base64 | tr '+/' '-_' | tr -d '=\n')\"}]}')" >/dev/null
check "the new library never signs with a key 0.1.0 imported (55000)" \
    "$(PGDATABASE=old_db sqlstate "SELECT jwt_sign('{}', header => '{\"kid\":\"idp-oct\"}')")" "55000"
out=$(psql -X -A -t -q -d old_db -c "ALTER EXTENSION jwt UPDATE" 2>&1)
check "the update warns about imported keys with private material" \
    "$(grep -q '1 key(s) imported from a JWKS hold private material' <<<"$out" && echo yes || echo no)" "yes"
check "after the update the imported secret is not published" \
    "$(qo "SELECT count(*) FROM jsonb_array_elements(jwt_jwks() -> 'keys') k WHERE k ->> 'kid' = 'idp-oct'")" "0"
check "nor signs" "$(PGDATABASE=old_db sqlstate "SELECT jwt_sign('{}', header => '{\"kid\":\"idp-oct\"}')")" "55000"
qo "DELETE FROM jwt_keys WHERE kid = 'idp-oct'"
out=$(psql -X -A -t -q -d old_db -c "SELECT jwt_verify('$token_v1') ->> 'sub'" 2>&1)
check "after the update a format 1 key verifies" "$(tail -n 1 <<<"$out")" "v1"
check "with a warning that it is bound to its kid only" \
    "$(grep -q 'key "v1-es" in the jwt keyring is sealed in the 0.1.0 format' <<<"$out" && echo yes || echo no)" "yes"
check "jwt_seal_keys() reseals both" "$(qo "SELECT jwt_seal_keys()")" "2"
check "now in format 2" \
    "$(qo "SELECT count(*) FROM jwt_keys WHERE substring(private_key from 1 for 8) = 'JWTKEK2:'::bytea")" "2"
out=$(psql -X -A -t -q -d old_db -c "SELECT jwt_verify('$token_v1') ->> 'sub'" 2>&1)
check "resealed: verifies without a warning" "$out" "v1"
check "resealed: the HMAC key signs" \
    "$(qo "SELECT jwt_verify(jwt_sign('{\"sub\":\"v1h\"}', header => '{\"kid\":\"v1-hs\"}')) ->> 'sub'")" "v1h"

# --- item 23: a sealed value opens only in its own row ---
# moved to another row (another kid)
q "UPDATE jwt_keys SET private_key = (SELECT private_key FROM jwt_keys WHERE kid = 'sealed-hs') WHERE kid = 'sealed-es'"
check "moved ciphertext cannot sign (55J01)" "$(sqlstate "SELECT jwt_sign('{}', header => '{\"kid\":\"sealed-es\"}')")" "55J01"
check "nor verify" "$(sqlstate "SELECT jwt_verify('$token')")" "55J01"
# rolled back into a newer row of the same kid: an old, retired key comes back
q "SELECT jwt_generate_key('HS256', 'roll')" >/dev/null
token_old=$(q "SELECT jwt_sign('{\"sub\":\"old key\"}', header => '{\"kid\":\"roll\"}')")
old_sealed=$(q "SELECT encode(private_key, 'hex') FROM jwt_keys WHERE kid = 'roll'")
q "DELETE FROM jwt_keys WHERE kid = 'roll'"
q "SELECT jwt_generate_key('HS256', 'roll')" >/dev/null
check "the new key of the kid refuses the old key's token (28J03)" "$(sqlstate "SELECT jwt_verify('$token_old')")" "28J03"
q "UPDATE jwt_keys SET private_key = decode('$old_sealed', 'hex') WHERE kid = 'roll'"
check "the old key rolled back into the new row does not open (55J01)" "$(sqlstate "SELECT jwt_verify('$token_old')")" "55J01"
check "nor sign" "$(sqlstate "SELECT jwt_sign('{}', header => '{\"kid\":\"roll\"}')")" "55J01"
# the row's algorithm and creation time are bound too
q "SELECT jwt_generate_key('HS256', 'bound-alg')" >/dev/null
q "UPDATE jwt_keys SET alg = 'HS384' WHERE kid = 'bound-alg'"
check "a changed alg does not open (55J01)" "$(sqlstate "SELECT jwt_sign('{}', header => '{\"kid\":\"bound-alg\"}')")" "55J01"
q "SELECT jwt_generate_key('HS256', 'bound-time')" >/dev/null
q "UPDATE jwt_keys SET created_at = created_at + interval '1 microsecond' WHERE kid = 'bound-time'"
check "a changed created_at does not open (55J01)" "$(sqlstate "SELECT jwt_sign('{}', header => '{\"kid\":\"bound-time\"}')")" "55J01"
q "DELETE FROM jwt_keys WHERE kid IN ('sealed-es', 'roll', 'bound-alg', 'bound-time')"

# --- item 24: a wrong KEK says which key cannot be opened, with its own SQLSTATE ---
other=$(openssl rand -hex 32)
echo "$other" >"$kek_file"
out=$(psql -X -A -t -q -c "SELECT jwt_verify('$token_hs')" 2>&1 || true)
check "wrong KEK: verification fails with 55J01" "$(sqlstate "SELECT jwt_verify('$token_hs')")" "55J01"
check "wrong KEK: the message names the kid" \
    "$(grep -q 'key "sealed-hs" in the keyring cannot be opened' <<<"$out" && echo yes || echo no)" "yes"
check "wrong KEK: not reported as an unknown kid" "$(grep -q 'no key in the keyring has kid' <<<"$out" && echo yes || echo no)" "no"
check "wrong KEK: jwt_is_valid raises 55J01 too (not a bad token)" "$(sqlstate "SELECT jwt_is_valid('$token_hs')")" "55J01"
check "wrong KEK: signing fails with 55J01" "$(sqlstate "SELECT jwt_sign('{}', header => '{\"kid\":\"sealed-hs\"}')")" "55J01"
q "SELECT jwt_add_key('a plain secret added under the wrong KEK', 'HS256', 'plain-2')" >/dev/null
q "UPDATE jwt_keys SET private_key = convert_to('another plain secret, stored by hand', 'UTF8') WHERE kid = 'plain-2'"
check "wrong KEK: jwt_seal_keys() refuses to seal under a key that does not open the others (55J01)" \
    "$(sqlstate "SELECT jwt_seal_keys()")" "55J01"
check "wrong KEK: and leaves the plain key plain" \
    "$(q "SELECT substring(private_key from 1 for 8) = 'JWTKEK2:'::bytea FROM jwt_keys WHERE kid = 'plain-2'")" "f"
q "DELETE FROM jwt_keys WHERE kid = 'plain-2'"
# the right key back: the same session opens the key at once (a failure is not cached)
out=$(psql -X -A -t -q -c "SELECT jwt_is_valid('$token_hs')" -c "\\! echo $kek > $kek_file" \
           -c "SELECT jwt_is_valid('$token_hs')" 2>&1 || true)
check "one session: refused under the wrong KEK" "$(grep -c 'key "sealed-hs" in the keyring cannot be opened' <<<"$out")" "1"
check "one session: verifies once the right KEK is back" "$(tail -n 1 <<<"$out")" "t"

# without the key-encryption key the sealed keys cannot be used, and say why
set_kek "RESET jwt.key_encryption_key"
out=$(psql -X -A -t -q -c "SELECT jwt_is_valid('$token_hs')" 2>&1 || true)
check "without the KEK: 55J01" "$(sqlstate "SELECT jwt_is_valid('$token_hs')")" "55J01"
check "without the KEK: the error names the kid and says why" \
    "$(grep -q 'key "sealed-hs" in the keyring cannot be opened' <<<"$out" &&
       grep -q 'sealed and jwt.key_encryption_key is not set' <<<"$out" && echo yes || echo no)" "yes"

# the key itself never reaches the server log or a client message
check "the KEK is not in the server log" "$(grep -qi -e "$kek" "$CLUSTER_DIR/server.log" && echo yes || echo no)" "no"
# a malformed KEK file is refused without echoing its contents (item 24: the
# whole file is read; only whitespace may follow the key)
set_kek "SET jwt.key_encryption_key = 'file:$kek_file'"
kek_file_case() {   # name contents expected(accepted|refused)
    printf '%b' "$2" >"$kek_file"
    local out got
    out=$(psql -X -A -t -q -c "SELECT jwt_generate_key('ES256') IS NOT NULL" 2>&1 || true)
    if grep -q 'must be 64 hexadecimal digits' <<<"$out"; then got=refused
    elif [ "$(tail -n 1 <<<"$out")" = t ]; then got=accepted
    else got="other: $out"; fi
    check "KEK file: $1" "$got" "$3"
    check "KEK file: $1: not echoed" "$(grep -qi -e "$kek" <<<"$out" && echo yes || echo no)" "no"
}
kek_file_case "the key" "$kek" accepted
kek_file_case "the key, newline" "$kek\n" accepted
kek_file_case "the key, trailing spaces and blank lines" "$kek  \t\n\n\n" accepted
kek_file_case "text before the key" "not-hex-$kek\n" refused
kek_file_case "a second line" "$kek\ngarbage\n" refused
kek_file_case "a second key" "$kek\n$kek\n" refused
kek_file_case "a 65th digit" "${kek}0\n" refused
kek_file_case "a leading space" " $kek\n" refused
kek_file_case "a NUL after the key" "$kek\0\n" refused
kek_file_case "63 digits" "${kek:0:63}\n" refused
kek_file_case "much trailing whitespace" "$kek$(printf '%5000s' '')\n" accepted
kek_file_case "garbage after much whitespace" "$kek$(printf '%5000s' '')x\n" refused
kek_file_case "empty" "" refused

finish
