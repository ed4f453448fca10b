-- Who may do what with the keyring, search_path attacks, and a second session
-- seeing a retirement at its next statement.
SET jwt.default_lifetime = '1h';
SELECT jwt_generate_key('ES256', 'access-test') AS kid;
SELECT jwt_sign('{"sub":"alice"}', header => '{"kid":"access-test"}') AS token \gset
SELECT jwt_jwks() AS published \gset
SELECT jwt_sign('{"sub":"x"}', k('ec_p256'), header => '{"kid":"access-test"}') AS forged \gset

CREATE ROLE regress_jwt_user;
CREATE ROLE regress_jwt_issuer;
CREATE SCHEMA regress_evil AUTHORIZATION regress_jwt_user;
GRANT EXECUTE ON FUNCTION jwt_keyring_signer() TO regress_jwt_issuer;

-- A role that was only given the use of jwt cannot reach key material in any way.
SET ROLE regress_jwt_user;
SELECT try('SELECT * FROM jwt_keys') AS select_table;
SELECT try('SELECT private_key FROM jwt_keys') AS select_column;
COPY jwt_keys TO STDOUT;
COPY (SELECT * FROM jwt_keys) TO STDOUT;
SELECT try($$UPDATE jwt_keys SET retired_at = NULL$$) AS update_table;
SELECT try($$DELETE FROM jwt_keys$$) AS delete_table;
SELECT try($$SELECT * FROM _jwt_key_generate('ES256')$$) AS internal_generate;
SELECT try($$SELECT * FROM _jwt_key_describe('x'::bytea, true, NULL, NULL)$$) AS internal_describe;
SELECT try($$SELECT jwt_generate_key()$$) AS generate;
SELECT try($$SELECT jwt_add_key(repeat('x', 32))$$) AS add;
SELECT try($$SELECT jwt_import_jwks('{"keys":[]}')$$) AS import;
SELECT try($$SELECT jwt_retire_key('access-test')$$) AS retire;
SELECT try($$SELECT jwt_sign('{"sub":"mallory"}')$$) AS keyring_sign;
SELECT try($$SELECT jwt_sign('{"sub":"mallory"}', header => '{"kid":"access-test"}')$$) AS keyring_sign_by_kid;
-- what it can do: verify with the keyring, sign with its own key, read the list and the JWKS
SELECT jwt_verify(:'token') ->> 'sub' AS keyring_verify;
SELECT jwt_verify(jwt_sign('{"sub":"own"}', secret()), secret()) ->> 'sub' AS own_key;
SELECT count(*) > 0 AS sees_list FROM jwt_key_list;
SELECT array_agg(attname ORDER BY attnum) AS list_columns
FROM pg_attribute WHERE attrelid = 'jwt_key_list'::regclass AND attnum > 0;
SELECT jwt_jwks() = :'published'::jsonb AS same_jwks;
SELECT count(*) FILTER (WHERE key IN ('d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k')) AS private_members,
       count(*) > 0 AS has_members
FROM jsonb_array_elements(jwt_jwks() -> 'keys') AS k, jsonb_object_keys(k) AS key;
-- errors about keys name the kid, never material
SELECT try(format('SELECT jwt_verify(%L)', :'forged')) AS forged;

-- search_path attacks: look-alike functions and operators ahead of pg_catalog
CREATE FUNCTION regress_evil.now() RETURNS timestamptz LANGUAGE sql AS $$ SELECT '2000-01-01'::timestamptz $$;
CREATE FUNCTION regress_evil.clock_timestamp() RETURNS timestamptz LANGUAGE sql AS $$ SELECT '2000-01-01'::timestamptz $$;
CREATE FUNCTION regress_evil.jsonb_agg(jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT '[{"kty":"oct","k":"c2VjcmV0"}]'::jsonb $$;
CREATE FUNCTION regress_evil.jsonb_array_elements(jsonb) RETURNS SETOF jsonb LANGUAGE sql AS $$ SELECT '{"kty":"oct","kid":"evil","k":"ZXZpbC1ldmlsLWV2aWwtZXZpbC1ldmlsLWV2aWwtZXZpbC0x"}'::jsonb $$;
CREATE FUNCTION regress_evil.texteq_evil(text, text) RETURNS boolean LANGUAGE sql AS $$ SELECT true $$;
CREATE OPERATOR regress_evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = regress_evil.texteq_evil);
CREATE FUNCTION regress_evil.convert_to(text, name) RETURNS bytea LANGUAGE sql AS $$ SELECT 'evil-evil-evil-evil-evil-evil-evil-1'::bytea $$;
SET search_path = regress_evil, public;
SELECT jwt_jwks() = :'published'::jsonb AS same_jwks_under_evil_path;
SELECT jwt_verify(:'token') ->> 'sub' AS verify_under_evil_path;
RESET search_path;
RESET ROLE;

-- the administrator, with a hijacked search_path, still gets the real behaviour
SET search_path = regress_evil, public;
SELECT try($$SELECT jwt_retire_key('no-such-kid')$$) AS retire_unknown_kid;
SELECT count(*) AS active_keys_untouched FROM jwt_key_list WHERE state = 'active' AND kid = 'access-test';
SELECT jwt_import_jwks(jsonb_build_object('keys', jsonb_build_array(k('ed25519_pub_jwk')::jsonb || '{"kid":"access-idp"}')), 'https://idp.example') AS imported_under_evil_path;
SELECT kid, kty FROM jwt_key_list WHERE kid IN ('access-idp', 'evil') ORDER BY kid;
SELECT jwt_add_key(repeat('z', 32), 'HS256', 'access-secret') AS added_under_evil_path;
RESET search_path;
SELECT jwt_verify(jwt_sign('{"sub":"z"}', repeat('z', 32), header => '{"kid":"access-secret"}')) ->> 'sub' AS real_secret_stored;

-- an issuer granted jwt_keyring_signer() signs with the keyring
SET ROLE regress_jwt_issuer;
SELECT jwt_verify(jwt_sign('{"sub":"issued"}', header => '{"kid":"access-test"}')) ->> 'sub' AS issuer_signs;
SELECT try('SELECT * FROM jwt_keys') AS issuer_still_cannot_read;
RESET ROLE;

-- A second session: it caches the keyring, and sees a retirement or a new key
-- committed by this session at its next statement.
CREATE EXTENSION dblink;
SELECT dblink_connect('other', format('dbname=%s host=%s port=%s', current_database(),
       split_part(current_setting('unix_socket_directories'), ',', 1), current_setting('port')));
SELECT * FROM dblink('other', format('SELECT jwt_verify(%L) ->> ''sub''', :'token')) AS t(sub text);
SELECT jwt_generate_key('HS256', 'added-later');
SELECT jwt_sign('{"sub":"later"}', header => '{"kid":"added-later"}') AS later \gset
SELECT * FROM dblink('other', format('SELECT jwt_verify(%L) ->> ''sub''', :'later')) AS t(sub text);
SELECT jwt_retire_key('access-test');
SELECT * FROM dblink('other', format('SELECT try(format(''SELECT jwt_verify(%%L)'', %L))', :'token')) AS t(outcome text);
-- and inside its own open transaction too
SELECT dblink_exec('other', 'BEGIN');
SELECT * FROM dblink('other', format('SELECT jwt_verify(%L) ->> ''sub''', :'later')) AS t(sub text);
SELECT jwt_retire_key('added-later');
SELECT * FROM dblink('other', format('SELECT try(format(''SELECT jwt_verify(%%L)'', %L))', :'later')) AS t(outcome text);
SELECT dblink_exec('other', 'COMMIT');
SELECT dblink_disconnect('other');

DROP EXTENSION dblink;
DROP SCHEMA regress_evil CASCADE;
REVOKE EXECUTE ON FUNCTION jwt_keyring_signer() FROM regress_jwt_issuer;
DROP ROLE regress_jwt_user;
DROP ROLE regress_jwt_issuer;
