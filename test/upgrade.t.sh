#!/usr/bin/env bash
# Upgrades: install the first released version (0.1.0), fill its keyring and
# revocation lists, check that the current library serves that SQL as it is,
# run ALTER EXTENSION jwt UPDATE, and check that keys, retirements,
# revocations and tokens all survive, that the update's objects are there, and
# that the updated database has exactly the schema of a fresh install.
# Uses the cluster the PG* variables name (test/run-tests.sh sets them); without
# PGHOST it starts a throwaway cluster of its own. Creates its own databases.
set -euo pipefail
cd "$(dirname "$0")/.."
. test/suite.sh
use_cluster

FIRST=0.1.0
CURRENT=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" jwt.control)
DB=jwt_upgrade_$$ FRESH=jwt_upgrade_fresh_$$
TMP=$(mktemp -d /tmp/jwt-upgrade.XXXXXX)
remove_at_exit "$TMP"

# sqlstate SQL: the SQLSTATE the statement fails with in $DB ("none" if it succeeds).
sqlstate() {
    local out
    out=$("$PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -v VERBOSITY=sqlstate -d "$DB" -c "$1" 2>&1) &&
        { echo none; return; }
    sed -n 's/^ERROR: *\([0-9A-Z]\{5\}\).*/\1/p' <<<"$out" | head -n 1
}

[ "$CURRENT" != "$FIRST" ] || { notok "jwt.control's default_version ($CURRENT) is newer than $FIRST"; finish; exit; }

# --- version FIRST, with keys, a retirement and revocations ---
own_database "$DB"
p "CREATE EXTENSION jwt VERSION '$FIRST'" >/dev/null
check "installed version" "$(p "SELECT extversion FROM pg_extension WHERE extname = 'jwt'")" "$FIRST"
check "ALTER EXTENSION can reach $CURRENT from $FIRST" \
    "$(p "SELECT count(*) FROM pg_extension_update_paths('jwt') WHERE source = '$FIRST' AND target = '$CURRENT' AND path IS NOT NULL")" 1

KID_ES=$(p "SELECT jwt_generate_key('ES256')")
KID_HS=$(p "SELECT jwt_generate_key('HS256', 'hs-1')")
KID_RS=$(p "SELECT jwt_generate_key('RS256', 'rs-old')")
declare -A TOK
for kid in "$KID_ES" "$KID_HS" "$KID_RS"; do
    TOK[$kid]=$(p "SELECT jwt_sign('{\"sub\":\"alice\"}', header => '{\"kid\":\"$kid\"}')")
done
TOK[revoked]=$(p "SELECT jwt_sign('{\"sub\":\"alice\"}', header => '{\"kid\":\"hs-1\"}')")
TOK[mallory]=$(p "SELECT jwt_sign('{\"sub\":\"mallory\"}', header => '{\"kid\":\"hs-1\"}')")
p "SELECT jwt_retire_key('rs-old')" >/dev/null
p "SELECT jwt_revoke('${TOK[revoked]}', 'lost phone')" >/dev/null
p "SELECT jwt_revoke_subject('mallory', reason => 'account closed')" >/dev/null
# Many revoked ids, so the lookups go through real index pages.
p "INSERT INTO jwt_revoked_tokens (jti, expires_at) SELECT 'bulk-' || i, '2100-01-01' FROM generate_series(1, 5000) i" >/dev/null

# the columns of 0.1.0 (0.2.0 adds issuer, state, activated_at)
KEYS="SELECT md5(string_agg((k.kid, k.alg, k.kty, k.public_jwk, k.private_key, k.origin, k.created_at, k.retired_at, k.verify_until)::text, ',' ORDER BY kid)) FROM jwt_keys k"
STATES="SELECT string_agg(kid || '=' || state, ',' ORDER BY kid) FROM jwt_key_list"
REVOKED="SELECT (SELECT md5(string_agg(t::text, ',' ORDER BY jti)) FROM jwt_revoked_tokens t) || '/' ||
                (SELECT md5(string_agg(s::text, ',' ORDER BY sub)) FROM jwt_revoked_subjects s)"
keys_before=$(p "$KEYS") states_before=$(p "$STATES") revoked_before=$(p "$REVOKED") jwks_before=$(p "SELECT jwt_jwks()")

# Checks that hold before and after the update.
token_checks() {   # label
    local kid
    for kid in "$KID_ES" "$KID_HS"; do
        check "$1: token of $kid verifies" "$(p "SELECT jwt_verify('${TOK[$kid]}')->>'sub'" 2>&1)" alice
    done
    check "$1: the retired key's token is refused (28J0D)" "$(sqlstate "SELECT jwt_verify('${TOK[$KID_RS]}')")" 28J0D
    check "$1: the revoked token is refused (28J04)" "$(sqlstate "SELECT jwt_verify('${TOK[revoked]}')")" 28J04
    check "$1: the revoked subject's token is refused (28J04)" "$(sqlstate "SELECT jwt_verify('${TOK[mallory]}')")" 28J04
    check "$1: a bulk-revoked id is refused (28J04)" \
        "$(sqlstate "SELECT jwt_verify(jwt_sign('{\"sub\":\"x\",\"jti\":\"bulk-4999\"}'))")" 28J04
    check "$1: sign and verify with the keyring" \
        "$(p "SELECT jwt_verify(jwt_sign('{\"sub\":\"bob\"}'))->>'sub'")" bob
}
# The current library serves the old SQL (before ALTER EXTENSION UPDATE runs,
# a new .so meets the old objects): revocation falls back to the primary keys.
token_checks "$FIRST with the current library"

# --- the update ---
if out=$(p "ALTER EXTENSION jwt UPDATE" 2>&1); then ok "ALTER EXTENSION jwt UPDATE"
else notok "ALTER EXTENSION jwt UPDATE"; sed 's/^/#   /' <<<"$out"; fi
check "updated version" "$(p "SELECT extversion FROM pg_extension WHERE extname = 'jwt'")" "$CURRENT"
check "keys unchanged, private material included" "$(p "$KEYS")" "$keys_before"
check "key states unchanged" "$(p "$STATES")" "$states_before"
check "revocations unchanged" "$(p "$REVOKED")" "$revoked_before"
check "published JWKS unchanged" "$(p "SELECT jwt_jwks()")" "$jwks_before"
token_checks "after the update"
check "the revocation lists have their hash indexes" \
    "$(p "SELECT string_agg(c.relname, ',' ORDER BY c.relname) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
          JOIN pg_am am ON am.oid = c.relam WHERE am.amname = 'hash'
          AND i.indrelid IN ('jwt_revoked_tokens'::regclass, 'jwt_revoked_subjects'::regclass)")" \
    "jwt_revoked_subjects_sub_hash,jwt_revoked_tokens_jti_hash"
check "the revocation lists announce their changes (triggers firing always)" \
    "$(p "SELECT string_agg(tgname || '=' || tgenabled::text, ',' ORDER BY tgname) FROM pg_trigger
          WHERE tgrelid IN ('jwt_revoked_tokens'::regclass, 'jwt_revoked_subjects'::regclass) AND NOT tgisinternal")" \
    "jwt_revoked_subjects_changed=A,jwt_revoked_tokens_changed=A"
check "a revocation made after the update counts" \
    "$(p "SELECT jwt_revoke('${TOK[$KID_ES]}')" >/dev/null; sqlstate "SELECT jwt_verify('${TOK[$KID_ES]}')")" 28J04

# --- updated == fresh: the same schema, object for object ---
own_database "$FRESH"
"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$FRESH" -c "CREATE EXTENSION jwt" >/dev/null
# schema DB: every object of the extension with its definition, privileges
# and comment (pg_dump only prints CREATE EXTENSION for them).
schema() {
    "$PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -d "$1" <<'SQL'
SELECT pg_describe_object(d.classid, d.objid, d.objsubid)
       || E'\n  comment: ' || coalesce(obj_description(d.objid, d.classid::regclass::text), '')
       || E'\n  ' || coalesce(def.text, '')
FROM pg_depend d
LEFT JOIN LATERAL (
    SELECT CASE d.classid
    WHEN 'pg_proc'::regclass THEN
        (SELECT pg_get_functiondef(p.oid) || ' acl=' || coalesce(p.proacl::text, '')
         FROM pg_proc p WHERE p.oid = d.objid AND p.prokind <> 'a')
    WHEN 'pg_class'::regclass THEN
        (SELECT 'kind=' || c.relkind::text || ' acl=' || coalesce(c.relacl::text, '') || ' rls=' || c.relrowsecurity
            || E'\n  columns: ' || coalesce((SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
                   || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
                   || coalesce(' collate ' || nullif(a.attcollation, 0)::regcollation::text, '')
                   || coalesce(' default ' || pg_get_expr(ad.adbin, ad.adrelid), ''), ', ' ORDER BY a.attnum)
               FROM pg_attribute a LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
               WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '')
            || E'\n  indexes: ' || coalesce((SELECT string_agg(pg_get_indexdef(i.indexrelid), '; ' ORDER BY pg_get_indexdef(i.indexrelid))
               FROM pg_index i WHERE i.indrelid = c.oid), '')
            || E'\n  constraints: ' || coalesce((SELECT string_agg(k.conname || ' ' || pg_get_constraintdef(k.oid), '; ' ORDER BY k.conname)
               FROM pg_constraint k WHERE k.conrelid = c.oid), '')
            || E'\n  triggers: ' || coalesce((SELECT string_agg(pg_get_triggerdef(t.oid), '; ' ORDER BY t.tgname)
               FROM pg_trigger t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal), '')
            || E'\n  policies: ' || coalesce((SELECT string_agg(pol.polname || ' ' || pol.polcmd::text || ' ' || coalesce(pg_get_expr(pol.polqual, pol.polrelid), ''), '; ' ORDER BY pol.polname)
               FROM pg_policy pol WHERE pol.polrelid = c.oid), '')
            || CASE WHEN c.relkind = 'v' THEN E'\n  view: ' || pg_get_viewdef(c.oid) ELSE '' END
         FROM pg_class c WHERE c.oid = d.objid)
    WHEN 'pg_type'::regclass THEN
        (SELECT 'type ' || format_type(t.oid, NULL) FROM pg_type t WHERE t.oid = d.objid)
    END AS text) def ON true
WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'jwt') AND d.deptype = 'e'
UNION ALL
SELECT 'configuration tables: ' || coalesce(extconfig::regclass[]::text, '') || ' ' || coalesce(extcondition::text, '')
FROM pg_extension WHERE extname = 'jwt'
ORDER BY 1;
SQL
}
schema "$DB" >"$TMP/updated.sql"
schema "$FRESH" >"$TMP/fresh.sql"
nfunc=$(grep -c '^function ' "$TMP/fresh.sql" || true) ntab=$(grep -c '^table ' "$TMP/fresh.sql" || true)
check "the description covers the extension (30+ functions, 3+ tables)" \
    "$([ "$nfunc" -ge 30 ] && [ "$ntab" -ge 3 ] && echo yes || echo "no: $nfunc functions, $ntab tables")" yes
if diff -u "$TMP/fresh.sql" "$TMP/updated.sql" >"$TMP/schema.diff"; then
    ok "the updated schema is the fresh install's"
else
    notok "the updated schema is the fresh install's"; head -n 60 "$TMP/schema.diff" | sed 's/^/#   /'
fi
check "and DROP EXTENSION removes everything" \
    "$(p "DROP EXTENSION jwt" >/dev/null; p "SELECT count(*) FROM pg_class WHERE relname LIKE 'jwt\_%'")" 0

finish
