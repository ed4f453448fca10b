#!/usr/bin/env bash
# Key-encryption key rotation, end to end (issue 14): keys stored plain before
# any KEK, keys sealed under the old KEK; then the new KEK in
# jwt.key_encryption_key and the old one in jwt.previous_key_encryption_key
# (reload): everything still verifies and signs, new keys are sealed under the
# new KEK; jwt_reseal_keys() moves every key to the new KEK (all or nothing;
# again: nothing to do); without the previous KEK everything still works.  A
# keyring that no configured KEK opens is refused whole (55J01); neither key
# reaches the server log.
# Starts its own cluster: it needs jwt in shared_preload_libraries.
set -euo pipefail
cd "$(dirname "$0")/.."
. test/suite.sh
own_cluster "-c shared_preload_libraries=jwt"

q() { psql -X -A -t -q -v ON_ERROR_STOP=1 -c "$1"; }
sqlstate() { psql -X -A -t -q -c '\set VERBOSITY sqlstate' -c "$1" 2>&1 | grep -o '[0-9A-Z]\{5\}' | tail -n 1; }
# settings SQL...: ALTER SYSTEM each, reload, wait until new sessions have it
settings() {
    local before
    before=$(q "SELECT pg_conf_load_time()")
    for s in "$@"; do q "ALTER SYSTEM $s"; done
    q "SELECT pg_reload_conf()" >/dev/null
    for _ in $(seq 100); do
        [ "$(q "SELECT pg_conf_load_time() > '$before'")" = t ] && return 0
        sleep 0.1
    done
    echo "# the server did not reload its configuration within 10 s" >&2; return 1
}
# kek_file NAME: a new key-encryption key in a file the server reads
kek_file() {
    local f="$CLUSTER_DIR/$1.kek"
    openssl rand -hex 32 >"$f"
    chmod 600 "$f"
    [ "$(id -u)" = 0 ] && chown "${JWT_SERVER_USER:-postgres}" "$f"
    echo "$f"
}
SEALED_BY="SELECT string_agg(kid || '=' || CASE WHEN substring(private_key FROM 1 FOR 8) = 'JWTKEK2:'::bytea
                                                THEN 'sealed' ELSE 'plain' END, ',' ORDER BY kid)
            FROM jwt_keys WHERE private_key IS NOT NULL"
sign() { q "SELECT jwt_sign('{\"sub\":\"$2\"}', header => '{\"kid\":\"$1\"}')"; }
verify() { q "SELECT jwt_verify('$1') ->> 'sub'"; }

q "CREATE EXTENSION jwt"
q "SELECT jwt_generate_key('HS256', 'plain-hs')" >/dev/null
old=$(kek_file old)
settings "SET jwt.key_encryption_key = 'file:$old'"
q "SELECT jwt_generate_key('ES256', 'old-es'), jwt_generate_key('HS256', 'old-hs')" >/dev/null
check "before the rotation: one plain key, two sealed under the old KEK" "$(q "$SEALED_BY")" \
    "old-es=sealed,old-hs=sealed,plain-hs=plain"
t_plain=$(sign plain-hs p 2>/dev/null) t_es=$(sign old-es e) t_hs=$(sign old-hs h)

# --- step 1: the new KEK, the old one as the previous ---
new=$(kek_file new)
settings "SET jwt.key_encryption_key = 'file:$new'" "SET jwt.previous_key_encryption_key = 'file:$old'"
check "during the rotation, keys sealed under the old KEK verify" "$(verify "$t_es") $(verify "$t_hs")" "e h"
check "and sign" "$(verify "$(sign old-es e2)")" "e2"
check "the plain key still verifies" "$(verify "$t_plain" 2>/dev/null)" "p"
q "SELECT jwt_generate_key('ES256', 'new-es')" >/dev/null
check "a new key is sealed under the new KEK" "$(verify "$(sign new-es n)")" "n"
# without the previous KEK an old-sealed key would not open: prove the setting is what opens it
check "the previous KEK is hidden from other roles" \
    "$(q "CREATE ROLE regress_kek_other"; sqlstate "SET ROLE regress_kek_other; SHOW jwt.previous_key_encryption_key")" "42501"

# --- step 2: reseal everything under the new KEK ---
check "jwt_reseal_keys is not for PUBLIC" \
    "$(q "SELECT has_function_privilege('public', 'jwt_reseal_keys()', 'EXECUTE')")" "f"
check "jwt_reseal_keys() rewrites the plain key and the two old-sealed ones" "$(q "SELECT jwt_reseal_keys()")" "3"
check "again: nothing to do" "$(q "SELECT jwt_reseal_keys()")" "0"
check "every key sealed" "$(q "$SEALED_BY")" "new-es=sealed,old-es=sealed,old-hs=sealed,plain-hs=sealed"

# --- step 3: the previous KEK goes ---
settings "RESET jwt.previous_key_encryption_key"
check "after the rotation, every token verifies" \
    "$(verify "$t_plain") $(verify "$t_es") $(verify "$t_hs")" "p e h"
check "and every key signs" \
    "$(verify "$(sign plain-hs a)") $(verify "$(sign old-es b)") $(verify "$(sign old-hs c)") $(verify "$(sign new-es d)")" "a b c d"
# the old KEK opens nothing any more
settings "SET jwt.key_encryption_key = 'file:$old'"
check "the old KEK alone opens none of the keys (55J01)" "$(sqlstate "SELECT jwt_verify('$t_es')")" "55J01"

# --- a keyring that no configured KEK opens is refused whole ---
other=$(kek_file other)
settings "SET jwt.key_encryption_key = 'file:$other'" "SET jwt.previous_key_encryption_key = 'file:$old'"
before=$(q "SELECT md5(string_agg(private_key::text, ',' ORDER BY kid)) FROM jwt_keys")
check "jwt_reseal_keys() with KEKs that open nothing: 55J01" "$(sqlstate "SELECT jwt_reseal_keys()")" "55J01"
check "and no row changed" "$(q "SELECT md5(string_agg(private_key::text, ',' ORDER BY kid)) FROM jwt_keys")" "$before"
settings "SET jwt.key_encryption_key = 'file:$new'" "RESET jwt.previous_key_encryption_key"
check "back on the new KEK: verifies" "$(verify "$t_es")" "e"

# --- a malformed previous KEK is refused where it is used, never echoed ---
settings "SET jwt.previous_key_encryption_key = 'not-a-key'"
q "SELECT jwt_generate_key('HS256', 'probe')" >/dev/null
# a sealed value the current KEK does not open: the previous one is tried
q "UPDATE jwt_keys SET private_key = convert_to('JWTKEK2:', 'UTF8') || decode(repeat('00', 60), 'hex') WHERE kid = 'probe'"
check "a malformed previous KEK: 22023 once it is needed" \
    "$(sqlstate "SELECT jwt_sign('{}', header => '{\"kid\":\"probe\"}')")" "22023"
check "and the value is not echoed" \
    "$(psql -X -A -t -q -c "SELECT jwt_sign('{}', header => '{\"kid\":\"probe\"}')" 2>&1 | grep -c 'not-a-key' || true)" "0"
q "DELETE FROM jwt_keys WHERE kid = 'probe'"
settings "RESET jwt.previous_key_encryption_key"

log=$(cluster_log 100000 2>/dev/null || cat "$CLUSTER_DIR/server.log")
check "neither KEK is in the server log" \
    "$(grep -c -e "$(cat "$old")" -e "$(cat "$new")" <<<"$log" || true)" "0"
finish
