// The Express side of the example. It holds no key, no password hash and no
// authorization rule: PostgreSQL checks passwords (login()), starts sessions
// and signs their tokens with its keyring, rotates refresh tokens and detects
// their reuse (jwt_session_refresh()), verifies access tokens and checks
// revocation (jwt_authenticate()), and filters rows by row-level security. The
// app moves the tokens between the browser's cookies and the database, and
// maps refusals to HTTP 401.
//
// Connection: DATABASE_URL, or the usual PG* variables (PGHOST, PGPORT,
// PGDATABASE, PGUSER, PGPASSWORD), as the express_app role of schema.sql.
// HOST and PORT say where to listen (default 127.0.0.1:3000; PORT=0 picks a
// free port). The address is printed as "listening on http://HOST:PORT".

import express from 'express';
import pg from 'pg';

const pool = new pg.Pool({
    connectionString: process.env.DATABASE_URL,   // undefined: the PG* variables
    max: Number(process.env.POOL_SIZE || 10),
});
// An idle connection that breaks (a server restart) is dropped; without a
// listener the error would end the process.
pool.on('error', (err) => console.error('idle database connection:', err.message));

class Unauthorized extends Error {}
class BadRequest extends Error {}

// The __Host- prefix: the browser keeps this cookie only if it was set by this
// very host, over a secure origin, with Path=/ and no Domain. So a sibling site
// (another subdomain of the same domain) cannot plant one for us, nor one with
// a narrower path that the browser would send first. (Other ports of the same
// host name share cookies whatever the name: do not serve untrusted pages
// there.)
const COOKIE = '__Host-token';
// The refresh token: a cookie of its own, sent only to POST /refresh (Path), so
// that it does not travel with every request as the access token does. A
// __Host- cookie must have Path=/, so this one has the __Secure- prefix: Secure,
// and set without Domain, so for this host only.
const REFRESH_COOKIE = '__Secure-refresh';
const REFRESH_PATH = '/refresh';

// A cookie from the request's Cookie header, or null. More than one cookie of
// that name means someone planted one (a browser without prefix support, or a
// client): the request is refused rather than one of them picked. (Cookie
// names and the tokens' characters, base64url and dots, need no decoding.)
function cookieFrom(req, cookieName) {
    const found = [];
    for (const part of (req.headers.cookie || '').split(';')) {
        const [name, ...value] = part.trim().split('=');
        if (name === cookieName) found.push(value.join('='));
    }
    if (found.length > 1) throw new Unauthorized();
    return found[0] || null;
}
const tokenFrom = (req) => cookieFrom(req, COOKIE);

// The jwt extension's refusals: class 28 (refused token: expired, revoked, bad
// signature...) and 22J (malformed token). Anything else is a server error.
const isAuthError = (err) => /^28|^22J/.test(err.code || '');

// A string from the request body that PostgreSQL can take: text cannot hold a
// NUL character, and a query with one would fail as a server error.
function text(value) {
    if (typeof value !== 'string' || value.includes('\0')) throw new BadRequest();
    return value;
}

// Run fn(client) for one request, on one pooled connection, inside one
// transaction that first makes the token the database identity. The identity
// that jwt_authenticate sets lasts until the end of the transaction (the
// default, jwt.session_identity = off), so whatever happens, the connection
// goes back to the pool without it and the next request on it starts
// anonymous.
async function asUser(req, fn) {
    const token = tokenFrom(req);
    if (!token) throw new Unauthorized();
    const client = await pool.connect();
    let broken = null;
    try {
        await client.query('BEGIN');
        await client.query('SELECT jwt_authenticate($1)', [token]);
        const result = await fn(client);
        await client.query('COMMIT');
        return result;
    } catch (err) {
        await client.query('ROLLBACK').catch((e) => { broken = e; });
        throw isAuthError(err) ? new Unauthorized() : err;
    } finally {
        client.release(broken || undefined);   // if even ROLLBACK failed: close it, do not reuse it
    }
}

// HttpOnly: page scripts (and so XSS) cannot read the token. Secure: sent over
// HTTPS only (browsers treat http://localhost as secure, for development); the
// __Host- prefix requires it, with Path=/ and no Domain. SameSite=Strict: never
// sent with a request started by another site, so no CSRF.
const cookieOptions = { httpOnly: true, secure: true, sameSite: 'strict', path: '/' };
const refreshCookieOptions = { ...cookieOptions, path: REFRESH_PATH };

// Both cookies of a session row (login(), jwt_session_refresh()), each expiring
// with its token: the access token after 5 minutes, the refresh token at the
// session's absolute end (refreshing does not extend it).
function setSessionCookies(res, row) {
    res.cookie(COOKIE, row.token, { ...cookieOptions, expires: row.expires_at });
    res.cookie(REFRESH_COOKIE, row.refresh_token, { ...refreshCookieOptions, expires: row.refresh_expires_at });
}
function clearSessionCookies(res) {
    res.clearCookie(COOKIE, cookieOptions);
    res.clearCookie(REFRESH_COOKIE, refreshCookieOptions);
}

// A state-changing request from this site's own page only: a JSON body (a
// cross-site form cannot send one without CORS, which this app does not grant),
// and, where the browser says where the request comes from, this origin. Sends
// the refusal and returns false otherwise.
function sameOriginJson(req, res) {
    if (!req.is('application/json')) {
        res.status(415).json({ error: 'JSON expected' });
        return false;
    }
    const site = req.get('Sec-Fetch-Site');
    const origin = req.get('Origin');
    if ((site !== undefined && site !== 'same-origin') ||
        (origin !== undefined && origin !== `${req.protocol}://${req.get('Host')}`)) {
        res.status(403).json({ error: 'cross-site request' });
        return false;
    }
    return true;
}

const app = express();
app.disable('x-powered-by');
app.use((req, res, next) => {
    // Scripts only from this origin: no inline script can run here.
    res.set('Content-Security-Policy', "default-src 'self'; frame-ancestors 'none'");
    res.set('X-Content-Type-Options', 'nosniff');
    // Answers carry who is logged in and their notes: no cache keeps them.
    // (express.static sets its own Cache-Control for the page's files.)
    res.set('Cache-Control', 'no-store');
    next();
});
app.use(express.json({ limit: '4kb' }));
app.use(express.static(new URL('./public', import.meta.url).pathname));
app.get('/favicon.ico', (req, res) => res.status(204).end());   // no icon, and no 404 for it

// POST /login {username, password}: the password is checked in SQL, the token
// comes back signed by the database's keyring and goes into the cookie only.
// login() counts failures per account and per address (req.ip: the peer's
// address; behind a proxy, set Express's "trust proxy" to the number of
// proxies, e.g. app.set('trust proxy', 1), so that it is the client's. Never
// true: the left-most X-Forwarded-For is the client's own choice, and a new one
// per attempt would escape the per-address limit) and refuses with 54000 past
// its limit: 429.
// (Express 5 passes a rejected promise of a handler on to the error handler.)
app.post('/login', async (req, res) => {
    const username = text(req.body?.username);
    const password = text(req.body?.password);
    let rows;
    try {
        ({ rows } = await pool.query('SELECT * FROM login($1, $2, $3)', [username, password, req.ip]));
    } catch (err) {
        if (err.code !== '54000') throw err;
        return res.status(429).set('Retry-After', '900').json({ error: 'too many attempts' });
    }
    if (rows.length === 0) return res.status(401).json({ error: 'wrong username or password' });
    setSessionCookies(res, rows[0]);
    res.json({ user: username });
});

// POST /refresh: the page calls it when an API request answers 401 (the access
// token expired: its cookie is gone). The refresh cookie's token is exchanged
// for a new pair and is spent: presented again (a stolen copy, or the victim's
// own after the thief used it), it ends the whole session everywhere (28JS1),
// and every holder has to log in again. Any refusal (reuse, expired, unknown,
// ended: SQLSTATE 28JS*) is 401 and clears both cookies.
app.post(REFRESH_PATH, async (req, res) => {
    if (!sameOriginJson(req, res)) return;
    const refreshToken = cookieFrom(req, REFRESH_COOKIE);
    if (!refreshToken) throw new Unauthorized();
    let rows;
    try {
        ({ rows } = await pool.query(
            'SELECT access_token AS token, access_expires_at AS expires_at, refresh_token, refresh_expires_at ' +
            'FROM jwt_session_refresh($1)', [refreshToken]));
    } catch (err) {
        if (!isAuthError(err)) throw err;
        clearSessionCookies(res);
        throw new Unauthorized();
    }
    setSessionCookies(res, rows[0]);
    res.status(204).end();
});

// GET /api/notes: who the token says we are, and the rows RLS lets us see.
// No WHERE clause: the policy does the filtering.
app.get('/api/notes', async (req, res) => {
    res.json(await asUser(req, async (db) => {
        const user = (await db.query("SELECT jwt_claim('sub') AS sub")).rows[0].sub;
        const notes = (await db.query('SELECT id, body FROM notes ORDER BY id')).rows;
        return { user, notes };
    }));
});

// POST /api/notes {body}: the owner is the token's subject (the column default);
// the policy's WITH CHECK refuses any other.
app.post('/api/notes', async (req, res) => {
    const body = text(req.body?.body);
    res.status(201).json(await asUser(req, async (db) =>
        (await db.query('INSERT INTO notes (body) VALUES ($1) RETURNING id, body', [body])).rows[0]));
});

// POST /logout: end the session in the database, not just forget the cookies,
// so that copies of its tokens (stolen, or replayed), access and refresh alike,
// are refused from now on. Only from this site's own page (sameOriginJson).
// The cookies are cleared only once the revocation has committed: a logout
// that failed leaves the user logged in, and knowing it.
app.post('/logout', async (req, res) => {
    if (!sameOriginJson(req, res)) return;
    await asUser(req, (db) => db.query('SELECT logout()'));
    clearSessionCookies(res);
    res.status(204).end();
});

// Refused tokens are 401, without the reason (expired, revoked...). Client
// errors (bad JSON, a body too large: a status from Express; a missing field
// or a NUL character; a note refused by a constraint or as data: SQLSTATE
// classes 23 and 22) are 400; the rest is a 500 whose details go to the
// server's log only.
// (Four parameters, next unused: that is how Express knows an error handler.)
app.use((err, req, res, next) => {
    if (err instanceof Unauthorized) return res.status(401).json({ error: 'not logged in' });
    if (err instanceof BadRequest) return res.status(400).json({ error: 'bad request' });
    if (err.status >= 400 && err.status < 500) return res.status(err.status).json({ error: 'bad request' });
    if (/^2[23]/.test(err.code || '')) return res.status(400).json({ error: 'bad request' });
    console.error(err);
    res.status(500).json({ error: 'internal error' });
});

const server = app.listen(Number(process.env.PORT ?? 3000), process.env.HOST || '127.0.0.1', () => {
    const { address, port } = server.address();
    console.log(`listening on http://${address}:${port}`);
});

// Stop cleanly on SIGTERM/SIGINT: close the listener and the pool.
for (const signal of ['SIGTERM', 'SIGINT']) {
    process.on(signal, () => {
        server.close();
        server.closeAllConnections();
        pool.end().finally(() => process.exit(0));
    });
}
