// End-to-end test of the example in headless Chromium, driven by playwright-core.
// Run by test/express_e2e.t.sh, which loads schema.sql into a database, starts
// server.js and passes:
//   APP_URL    the app's address, e.g. http://localhost:41234
//   PG*        the database, as the app's role (express_app), for the SQL replay
//   CHROMIUM   the browser (default /usr/bin/chromium)
// Prints one "ok - ..." / "not ok - ..." line per check; exits 1 on a failure.
//
// The story: alice logs in and sees only her notes; the token is in an
// HttpOnly, Secure, SameSite=Strict cookie that document.cookie cannot read;
// bob, in another browser context, sees only his; alice logs out, and her old
// token, replayed over HTTP and straight into jwt_authenticate(), is refused.

import pg from 'pg';
import { chromium } from 'playwright-core';

const APP_URL = process.env.APP_URL;
if (!APP_URL) throw new Error('APP_URL is not set');

let failed = 0;
function check(name, ok, detail = '') {
    console.log(`${ok ? 'ok' : 'not ok'} - ${name}`);
    if (!ok) {
        failed++;
        if (detail) console.log(`#   ${String(detail).replace(/\n/g, '\n#   ')}`);
    }
}
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

// GET path with the given Cookie header, outside the browser: what an attacker
// holding a copy of the token would do.
async function replay(path, cookie) {
    const res = await fetch(new URL(path, APP_URL), { headers: cookie ? { cookie } : {} });
    return { status: res.status, body: await res.text() };
}

// What the page lists, and the user it names (null when logged out).
async function pageState(page) {
    return page.evaluate(() => ({
        user: document.getElementById('notes').hidden ? null : document.getElementById('user').textContent,
        notes: [...document.querySelectorAll('#list li')].map((li) => li.textContent),
        loginShown: !document.getElementById('login').hidden,
        status: document.getElementById('status').textContent,
        loginError: document.getElementById('login-error').textContent,
    }));
}

// Fill in the login form and wait until the page shows the expected result:
// that user's notes, or (wrongPassword) an error message.
async function logIn(page, username, password, { wrongPassword = false } = {}) {
    await page.fill('#login input[name=username]', username);
    await page.fill('#login input[name=password]', password);
    await page.click('#login button');
    if (wrongPassword) {
        await page.waitForFunction(() => document.getElementById('login-error').textContent !== '');
    } else {
        await page.waitForFunction((user) => !document.getElementById('notes').hidden &&
            document.getElementById('user').textContent === user, username);
    }
}
// Reload the page and wait until it shows the notes or the login form.
async function reload(page) {
    await page.reload();
    await page.waitForSelector('#notes:not([hidden]), #login:not([hidden])');
}

const ALICE_NOTES = ['alice: buy milk', 'alice: call the bank'];
const BOB_NOTES = ['bob: water the plants', 'bob: renew the passport'];

const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    // The network is closed here: without these, Chromium keeps trying to
    // reach Google's services and hangs. (launch() gives it a fresh profile.)
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    timeout: 30_000,
});

try {
    // --- alice ---
    const alice = await browser.newContext();
    alice.setDefaultTimeout(10_000);
    const page = await alice.newPage();
    const pageErrors = [];
    page.on('pageerror', (err) => pageErrors.push(err.message));
    // Console errors too (a CSP violation is one), except Chromium's note of
    // each 401 answer, which are expected here.
    page.on('console', (msg) => {
        if (msg.type() === 'error' && !/status of 401/.test(msg.text())) pageErrors.push(msg.text());
    });

    await page.goto(APP_URL);
    await page.waitForSelector('#login:not([hidden])');
    check('logged out at first: the page shows the login form', (await pageState(page)).loginShown);
    check('http://localhost is a secure context for Chromium (so it keeps Secure cookies)',
        await page.evaluate(() => window.isSecureContext));

    await logIn(page, 'alice', 'not her password', { wrongPassword: true });
    let state = await pageState(page);
    check('a wrong password is refused (the page says so, no cookie)',
        state.loginShown && state.loginError !== '' && (await alice.cookies()).length === 0,
        JSON.stringify(state));

    await logIn(page, 'alice', 'correct horse');
    state = await pageState(page);
    check('alice logs in and the page names her', state.user === 'alice', JSON.stringify(state));
    check("alice sees exactly her rows, none of bob's", same(state.notes, ALICE_NOTES),
        JSON.stringify(state.notes));

    const cookies = await alice.cookies();
    const cookie = cookies.find((c) => c.name === 'token');
    check('the login set the token cookie', cookie !== undefined, JSON.stringify(cookies));
    const token = cookie?.value ?? '';
    check('the cookie is HttpOnly, Secure and SameSite=Strict, for path /',
        cookie?.httpOnly === true && cookie?.secure === true && cookie?.sameSite === 'Strict' && cookie?.path === '/',
        JSON.stringify(cookie));
    check('the cookie expires with the token (about an hour from now)',
        cookie !== undefined && Math.abs(cookie.expires - (Date.now() / 1000 + 3600)) < 120,
        JSON.stringify(cookie));
    const claims = token ? JSON.parse(Buffer.from(token.split('.')[1], 'base64url')) : {};
    check('the token was signed by the keyring with sub, exp and jti',
        claims.sub === 'alice' && Number.isInteger(claims.exp) && typeof claims.jti === 'string',
        JSON.stringify(claims));

    const docCookie = await page.evaluate(() => document.cookie);
    check('document.cookie cannot read the token', token !== '' && !docCookie.includes(token) &&
        !/(^|;\s*)token=/.test(docCookie), `document.cookie = ${JSON.stringify(docCookie)}`);

    const before = await replay('/api/notes', `token=${token}`);
    check('the token replayed outside the browser works while logged in (200, alice\'s rows)',
        before.status === 200 && same(JSON.parse(before.body).notes.map((n) => n.body), ALICE_NOTES),
        `${before.status} ${before.body}`);

    await page.fill('#add input[name=body]', 'alice: a new note');
    await page.click('#add button');
    await page.waitForFunction(() => document.querySelectorAll('#list li').length === 3);
    state = await pageState(page);
    check('alice adds a note through RLS (owner from the token)',
        same(state.notes, [...ALICE_NOTES, 'alice: a new note']), JSON.stringify(state.notes));

    // --- bob, in a browser context of his own (his own cookie jar) ---
    const bob = await browser.newContext();
    bob.setDefaultTimeout(10_000);
    const bobPage = await bob.newPage();
    await bobPage.goto(APP_URL);
    await bobPage.waitForSelector('#login:not([hidden])');
    await logIn(bobPage, 'bob', 'battery staple');
    let bobState = await pageState(bobPage);
    check('bob logs in and sees exactly his rows, none of alice\'s (not even her new one)',
        bobState.user === 'bob' && same(bobState.notes, BOB_NOTES), JSON.stringify(bobState));

    const emptyNote = await bobPage.evaluate(async () => (await fetch('/api/notes', {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ body: '' }),
    })).status);
    check('an empty note is refused by the table\'s CHECK constraint: 400, not a server error',
        emptyNote === 400, `status ${emptyNote}`);

    // alice again, after bob's requests went through the same pooled connection
    await reload(page);
    state = await pageState(page);
    check('alice, after bob on the same pooled connection, still sees only her rows',
        state.user === 'alice' && same(state.notes, [...ALICE_NOTES, 'alice: a new note']), JSON.stringify(state));

    // --- alice logs out ---
    await page.click('#logout');
    await page.waitForSelector('#login:not([hidden])');
    state = await pageState(page);
    check('after logout the page shows the login form and no rows',
        state.loginShown && state.user === null && state.status === 'Logged out.', JSON.stringify(state));
    check('logout removed the cookie from the browser',
        !(await alice.cookies()).some((c) => c.name === 'token'), JSON.stringify(await alice.cookies()));
    const status = await page.evaluate(async () => (await fetch('/api/notes')).status);
    check('the protected route now answers 401 to the browser', status === 401, `status ${status}`);

    // --- the old token, replayed ---
    const after = await replay('/api/notes', `token=${token}`);
    check('the old token replayed over HTTP is refused (401)', after.status === 401, `${after.status} ${after.body}`);
    const afterPost = await fetch(new URL('/api/notes', APP_URL), {
        method: 'POST', headers: { cookie: `token=${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ body: 'written with a revoked token' }),
    });
    check('the old token cannot write either (401)', afterPost.status === 401, `status ${afterPost.status}`);

    const db = new pg.Client();
    await db.connect();
    try {
        let sqlstate = null;
        try {
            await db.query('BEGIN');
            await db.query('SELECT jwt_authenticate($1)', [token]);
        } catch (err) {
            sqlstate = err.code;
        } finally {
            await db.query('ROLLBACK');
        }
        check('the old token replayed straight into jwt_authenticate() is refused as revoked (28J04)',
            sqlstate === '28J04', `SQLSTATE ${sqlstate}`);
        const { rows } = await db.query('SELECT count(*)::int AS n FROM notes');
        check('with no identity, the app role sees no rows at all', rows[0].n === 0, `${rows[0].n} rows`);
    } finally {
        await db.end();
    }

    // --- bob is not affected: revocation was of alice's token only ---
    await reload(bobPage);
    bobState = await pageState(bobPage);
    check("bob is still logged in after alice's logout", bobState.user === 'bob' && same(bobState.notes, BOB_NOTES),
        JSON.stringify(bobState));

    // --- requests without a valid token ---
    const none = await replay('/api/notes', null);
    check('no cookie: 401', none.status === 401, `${none.status} ${none.body}`);
    const garbage = await replay('/api/notes', 'token=not.a.token');
    check('a malformed token: 401, not a server error', garbage.status === 401, `${garbage.status} ${garbage.body}`);
    const forged = token.split('.').slice(0, 2).join('.') + '.' + Buffer.alloc(64).toString('base64url');
    const forgedRes = await replay('/api/notes', `token=${forged}`);
    check('a token with a forged signature: 401', forgedRes.status === 401, `${forgedRes.status} ${forgedRes.body}`);

    check('no script error on the page', pageErrors.length === 0, pageErrors.join('\n'));
} catch (err) {
    check('the browser test ran to the end', false, err.stack);
} finally {
    await browser.close();
}
process.exit(failed ? 1 : 0);
