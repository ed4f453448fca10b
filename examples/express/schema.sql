-- The database side of the Express example. Run it once, as a superuser, in the
-- application's database:
--
--     psql -v ON_ERROR_STOP=1 -d app -f schema.sql
--
-- The app connects as express_app, a role that is neither a superuser nor the
-- owner of any table, so row-level security applies to everything it reads.
-- It can do exactly four things: call login(), jwt_session_refresh() and
-- logout(), and read and add rows of notes, which RLS limits to the owner named
-- by the verified token.

CREATE EXTENSION IF NOT EXISTS jwt;
CREATE EXTENSION IF NOT EXISTS pgcrypto;   -- crypt() and gen_salt(): bcrypt password hashes

-- A signing key in the keyring, unless one is there already. The key never
-- leaves the database: the app never sees it, only the tokens signed with it.
SELECT jwt_generate_key('ES256')
WHERE NOT EXISTS (SELECT FROM jwt_key_list WHERE state = 'active' AND has_private);

-- The role the app logs in as. Roles belong to the whole cluster, so this one
-- may exist already (from another database of the same cluster).
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'express_app') THEN
        CREATE ROLE express_app LOGIN;   -- in production: ... LOGIN PASSWORD '...'
    END IF;
END
$$;

-- Users and their bcrypt hashes. express_app gets no privilege on this table:
-- only login() (SECURITY DEFINER, owned by the superuser running this script)
-- reads it, so the hashes never reach the app.
CREATE TABLE users (
    username      text PRIMARY KEY,
    password_hash text NOT NULL
);

-- The rows users own. RLS shows and accepts only the rows of the subject of the
-- token that jwt_authenticate() verified in the current transaction. With no
-- identity, jwt_claim('sub') is NULL and no row matches.
CREATE TABLE notes (
    id    integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner text NOT NULL DEFAULT jwt_claim('sub') REFERENCES users,
    body  text NOT NULL CHECK (length(body) BETWEEN 1 AND 500)
);
ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_notes ON notes
    USING (owner = jwt_claim('sub'))
    WITH CHECK (owner = jwt_claim('sub'));
-- INSERT on body only: the owner always comes from the token (the default).
GRANT SELECT, INSERT (body) ON notes TO express_app;

-- Failed logins, counted per account and per client address, so that guessing
-- is slow whichever it varies. A key is 'user:<name>' (known or not: the limit
-- must not tell the two apart) or 'addr:<address>' (an IPv6 client by its /64).
-- express_app has no privilege on it: only login() writes it. (Rows whose
-- window has passed are dead weight: a schedule may delete them.)
CREATE TABLE login_failures (
    key          text PRIMARY KEY,
    failures     integer NOT NULL,
    window_start timestamptz NOT NULL
);

-- The key under which login() counts an address's failures: an IPv4 address,
-- or the /64 of an IPv6 one (one site's hosts usually share a /64, and one
-- host can pick any address in it). An IPv4-mapped IPv6 address counts as its
-- IPv4 address, not as the one /64 that all of them share.
CREATE FUNCTION login_address_key(address inet) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT 'addr:' || CASE
        WHEN family(address) = 4 THEN host(address)
        -- an IPv4 client of a server listening on :: (HOST=::) arrives as
        -- ::ffff:a.b.c.d: its own IPv4 address, not one of a shared /64
        WHEN address << '::ffff:0.0.0.0/96' THEN host('0.0.0.0'::inet + (address - '::ffff:0.0.0.0'::inet))
        ELSE host(network(set_masklen(address, 64)))
    END
$$;

-- login: checks the password in SQL and starts a session: a 5-minute access
-- token signed with the keyring (with the session's "sid" and its own "jti")
-- and an opaque refresh token (30 days at most; each use rotates it), or no row
-- at all for a wrong username or password (a set-returning function: a plain
-- one would return a row of NULLs). SECURITY DEFINER because express_app may
-- neither read users nor start sessions (jwt_keyring_signer() is not granted to
-- it); the owner, a superuser, may. The search_path is pinned so that nobody
-- can slip a look-alike crypt() or jwt_session_start() in front of the real ones.
--
-- An unknown username costs the same bcrypt as a wrong password, so the time
-- of an answer does not tell whether an account exists. More than 5 failures
-- for one account, or 20 from one address, within 15 minutes refuse further
-- attempts, right or wrong, with SQLSTATE 54000 (the app answers 429) until
-- the window has passed. The attempt is counted before the password is
-- checked, under the counter rows' locks, so concurrent guesses cannot slip
-- past the limit; a successful login takes its attempt back and clears the
-- account's count.
CREATE FUNCTION login(username text, password text, address inet)
RETURNS TABLE (token text, expires_at timestamptz, refresh_token text, refresh_expires_at timestamptz)
LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
DECLARE
    account_key text := 'user:' || username;
    address_key text := login_address_key(address);
    account_failures integer;
    address_failures integer;
    hash text;
BEGIN
    INSERT INTO login_failures AS f VALUES (account_key, 1, now()), (address_key, 1, now())
    ON CONFLICT (key) DO UPDATE
        SET failures = CASE WHEN f.window_start > now() - interval '15 minutes' THEN f.failures + 1 ELSE 1 END,
            window_start = CASE WHEN f.window_start > now() - interval '15 minutes' THEN f.window_start ELSE now() END;
    SELECT failures INTO account_failures FROM login_failures WHERE key = account_key;
    SELECT failures INTO address_failures FROM login_failures WHERE key = address_key;
    IF account_failures > 5 OR address_failures > 20 THEN
        RAISE EXCEPTION 'too many failed logins, try again later' USING ERRCODE = 'program_limit_exceeded';
    END IF;

    SELECT u.password_hash INTO hash FROM users u WHERE u.username = login.username;
    IF hash IS NULL THEN
        PERFORM crypt(password, gen_salt('bf', 10));   -- the same work as a real check
        RETURN;
    END IF;
    IF hash <> crypt(password, hash) THEN
        RETURN;
    END IF;

    DELETE FROM login_failures WHERE key = account_key;
    UPDATE login_failures SET failures = failures - 1 WHERE key = address_key;
    RETURN QUERY SELECT s.access_token, s.access_expires_at, s.refresh_token, s.refresh_expires_at
                 FROM jwt_session_start(jsonb_build_object('sub', login.username),
                                        interval '5 minutes', interval '30 days') s;
END
$$;

-- logout: ends the session of the token that jwt_authenticate() verified in
-- this transaction: its refresh tokens and every access token carrying its
-- "sid". From then on jwt_authenticate refuses them (28J04) and
-- jwt_session_refresh refuses its refresh tokens, wherever they are replayed
-- from. It takes no argument, so a caller can only end the session whose token
-- it has just proved it holds.
CREATE FUNCTION logout() RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
BEGIN
    IF jwt_claim('sid') IS NULL THEN
        RAISE EXCEPTION 'not authenticated' USING ERRCODE = 'invalid_authorization_specification';
    END IF;
    PERFORM jwt_revoke_session(jwt_claim('sid'), 'logout');
END
$$;

-- Functions are executable by PUBLIC by default: only the app may call these.
REVOKE EXECUTE ON FUNCTION login(text, text, inet), logout() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION login(text, text, inet), logout() TO express_app;
-- Refreshing: the refresh token is the credential. (A refresh token presented a
-- second time is reuse: the whole session ends, 28JS1.)
GRANT EXECUTE ON FUNCTION jwt_session_refresh(text) TO express_app;

-- Demo data: two users (alice / correct horse, bob / battery staple) and a few
-- notes each. Delete this section for real use.
INSERT INTO users VALUES
    ('alice', crypt('correct horse', gen_salt('bf', 10))),
    ('bob',   crypt('battery staple', gen_salt('bf', 10)));
INSERT INTO notes (owner, body) VALUES
    ('alice', 'alice: buy milk'),
    ('alice', 'alice: call the bank'),
    ('bob',   'bob: water the plants'),
    ('bob',   'bob: renew the passport');
