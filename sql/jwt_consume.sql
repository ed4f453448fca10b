-- Single-use tokens (jwt_consume): verified with the keyring, their jti
-- recorded as used in the same transaction.
SET jwt.default_lifetime = '1h';
SELECT jwt_generate_key('HS256', 'consume-test') AS kid;
SELECT jwt_sign('{"sub":"alice","purpose":"reset"}') AS t1 \gset

-- first use: the claims, as jwt_verify returns them; the id is recorded until exp
SELECT jwt_consume(:'t1') - 'iat' - 'exp' - 'jti' AS claims;
SELECT jti = (jwt_decode(:'t1')).payload ->> 'jti' AS recorded,
       expires_at = to_timestamp(((jwt_decode(:'t1')).payload ->> 'exp')::bigint) AS until_exp
FROM jwt_consumed_tokens;
-- attack: a replayed single-use token (a magic link clicked twice, or by a thief)
SELECT try(format('SELECT jwt_consume(%L)', :'t1')) AS second_use;

-- a use that rolls back is no use: the token stays good (the caller's work and the consumption are one)
SELECT jwt_sign('{"sub":"bob"}') AS t2 \gset
BEGIN;
SELECT jwt_consume(:'t2') ->> 'sub' AS consumed_in_rolled_back_transaction;
ROLLBACK;
SELECT jwt_consume(:'t2') ->> 'sub' AS consumed_after_rollback;

-- attack: a token without jti cannot be single-use
SET jwt.add_jti = off;
SELECT jwt_sign('{"sub":"carol"}') AS nojti \gset
RESET jwt.add_jti;
SELECT try(format('SELECT jwt_consume(%L)', :'nojti')) AS no_jti;
SELECT try(format('SELECT jwt_consume(%L)', jwt_sign('{"sub":"carol","jti":""}'))) AS empty_jti;

-- attack: a token signed with an explicit key (not the keyring), or forged
SELECT try(format('SELECT jwt_consume(%L)', jwt_sign('{"sub":"eve","jti":"eve-1"}', secret(), header => '{"kid":"not-in-the-keyring"}'))) AS explicit_key;
SELECT try(format('SELECT jwt_consume(%L)', jwt_sign('{"sub":"eve","jti":"eve-2"}', secret(), header => '{"kid":"consume-test"}'))) AS explicit_key_same_kid;
SELECT try(format('SELECT jwt_consume(%L)', left(:'t1', -3) || 'AAA')) AS tampered;
SELECT count(*) AS nothing_recorded FROM jwt_consumed_tokens WHERE jti LIKE 'eve-%';

-- the options are jwt_verify's, the keyring's rules apply (revocation always)
SELECT jwt_sign('{"sub":"dan","aud":"mail"}') AS t3 \gset
SELECT try(format('SELECT jwt_consume(%L, audience => %L)', :'t3', 'web')) AS wrong_audience;
SELECT jwt_consume(:'t3', audience => 'mail') ->> 'sub' AS right_audience;
SELECT jwt_sign('{"sub":"fay"}') AS t4 \gset
SELECT jwt_revoke(:'t4');
SELECT try(format('SELECT jwt_consume(%L)', :'t4')) AS revoked;
SELECT try(format('SELECT jwt_consume(%L)', jwt_sign('{"sub":"gus","iat":999999000,"exp":1000000000}'))) AS expired;
SELECT try(format('SELECT jwt_consume(%L, typ => %L)', jwt_sign('{"sub":"hal"}'), 'magic+jwt')) AS wrong_typ;

-- attack: a purge re-enabling a consumed token.  Ids go a day after exp (the
-- largest jwt.leeway); a leeway beyond that is refused, and there is no now
SELECT try(format('SELECT jwt_consume(%L, leeway => %L)', :'t1', '2 days')) AS long_leeway;
SELECT try(format('SELECT jwt_consume(%L, now => %L)', :'t1', '2001-01-01')) AS now_argument;
SELECT try(format('SELECT jwt_consume(%L, %L)', :'t1', secret())) AS key_argument;
SELECT try(format('SELECT jwt_consume(%L, %L::text)', :'t1', k('ec_p256_pub'))) AS public_key_argument;
UPDATE jwt_consumed_tokens SET expires_at = now() - interval '23 hours';
SELECT jwt_purge_revocations() AS purged_within_a_day;
UPDATE jwt_consumed_tokens SET expires_at = now() - interval '25 hours';
SELECT jwt_purge_revocations() AS purged_after_a_day;

-- a role without any grant may consume (as it may verify): the table stays out of reach
CREATE ROLE consume_nobody;
SELECT jwt_sign('{"sub":"ida"}') AS t5 \gset
SET ROLE consume_nobody;
SELECT jwt_consume(:'t5') ->> 'sub' AS consumed_by_any_role;
SELECT try(format('SELECT jwt_consume(%L)', :'t5')) AS second_use;
SELECT try($$DELETE FROM jwt_consumed_tokens$$) AS unconsume,
       try($$SELECT _jwt_consume_record('x', NULL)$$) AS internal;
RESET ROLE;
DROP ROLE consume_nobody;

DELETE FROM jwt_consumed_tokens;
DELETE FROM jwt_revoked_tokens;
SELECT jwt_retire_key('consume-test');
RESET jwt.default_lifetime;
