// Interoperability test: DPoP proofs (RFC 9449) made by real clients, checked
// by the jwt PostgreSQL extension.
//
// Run through the wrapper test/dpop_interop.t.sh (it installs the pinned
// packages with `npm ci` when node_modules is missing or stale), or from this
// directory once `npm ci` has run: node dpop_interop.mjs.  Connection
// parameters come from the PG* environment variables; the user must be a
// superuser (it signs bound tokens with the keyring).
//
// Libraries (exact versions pinned in package.json / package-lock.json):
//   dpop  panva's DPoP client (WebCrypto): generateKeyPair, generateProof,
//         calculateThumbprint, for ES256, RS256, PS256 and Ed25519.
//   jose  for what no well-behaved client makes: stale, private-key,
//         symmetric and tampered proofs.
//   pg    node-postgres.
//
// Output: one "ok - ..." / "not ok - ...: reason" line per case, then
// "N passed, M failed". Exit status 1 if anything failed.

import { createHash, randomBytes, randomUUID } from 'node:crypto';

import * as DPoP from 'dpop';
import * as jose from 'jose';
import pg from 'pg';

let passed = 0;
let failed = 0;

function report(name, ok, reason = '') {
    if (ok) {
        passed++;
        console.log(`ok - ${name}`);
    } else {
        failed++;
        console.log(`not ok - ${name} : ${String(reason).split(/\s+/).join(' ')}`);
    }
}

async function test(name, fn) {
    try {
        const r = await fn();
        report(name, r === true, r === true ? '' : `got ${JSON.stringify(r)}`);
    } catch (e) {
        report(name, false, e.code ? `${e.code}: ${e.message}` : e.stack);
    }
}

// The SQLSTATE a promise fails with, or 'ok'.
async function outcome(promise) {
    try {
        await promise;
        return 'ok';
    } catch (e) {
        if (!e.code) throw e;
        return e.code;
    }
}

const db = new pg.Client();
await db.connect();
const q = (sql, params) => db.query(sql, params);
const verify = (proof, method, url, token = null, nonce = null) =>
    q('SELECT jwt_dpop_verify($1, $2, $3, $4, $5) AS r', [proof, method, url, token, nonce]);

const URL_ = 'https://api.example.com/things';
const b64u = (buf) => Buffer.from(buf).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);

// ---------- proofs from the dpop client verify; the thumbprints agree ----------
const pairs = {};
for (const alg of ['ES256', 'RS256', 'PS256', 'Ed25519']) {
    const pair = await DPoP.generateKeyPair(alg);
    pairs[alg] = pair;
    const jkt = await DPoP.calculateThumbprint(pair.publicKey);
    await test(`${alg}: a dpop client's proof verifies, jkt is the client's thumbprint`, async () => {
        const proof = await DPoP.generateProof(pair, URL_, 'GET');
        const { rows } = await verify(proof, 'GET', URL_);
        return rows[0].r.jkt === jkt && rows[0].r.claims.htu === URL_ && rows[0].r.claims.htm === 'GET';
    });
    await test(`${alg}: jwt_thumbprint of the public JWK is jose's and dpop's thumbprint`, async () => {
        const jwk = await jose.exportJWK(pair.publicKey);
        const { rows } = await q('SELECT jwt_thumbprint($1) AS t', [jwk]);
        return rows[0].t === jkt && jkt === await jose.calculateJwkThumbprint(jwk, 'sha256');
    });
}
const pair = pairs.ES256;
const jkt = await DPoP.calculateThumbprint(pair.publicKey);

// ---------- refusals ----------
await test('replayed proof: 28JD9', async () => {
    const proof = await DPoP.generateProof(pair, URL_, 'POST');
    return await outcome(verify(proof, 'POST', URL_)) === 'ok' &&
        await outcome(verify(proof, 'POST', URL_)) === '28JD9';
});
await test('proof for another method: 28JD6', async () =>
    await outcome(verify(await DPoP.generateProof(pair, URL_, 'GET'), 'DELETE', URL_)) === '28JD6');
await test('proof for another URL: 28JD7', async () =>
    await outcome(verify(await DPoP.generateProof(pair, URL_, 'GET'), 'GET', 'https://api.example.com/admin')) === '28JD7');
await test('query-string-only difference: accepted (query and fragment stripped)', async () =>
    await outcome(verify(await DPoP.generateProof(pair, URL_, 'GET'), 'GET', `${URL_}?select=*&id=eq.1#x`)) === 'ok');
await test('ath: the proof for this access token verifies, for another one 28JDA', async () => {
    const proof = await DPoP.generateProof(pair, URL_, 'GET', undefined, 'the-access-token');
    const other = await DPoP.generateProof(pair, URL_, 'GET', undefined, 'another-token');
    return await outcome(verify(proof, 'GET', URL_, 'the-access-token')) === 'ok' &&
        await outcome(verify(other, 'GET', URL_, 'the-access-token')) === '28JDA';
});
await test('nonce: the server nonce verifies, another one 28JDB', async () => {
    const proof = await DPoP.generateProof(pair, URL_, 'GET', 'server-nonce-1');
    const other = await DPoP.generateProof(pair, URL_, 'GET', 'server-nonce-0');
    return await outcome(verify(proof, 'GET', URL_, null, 'server-nonce-1')) === 'ok' &&
        await outcome(verify(other, 'GET', URL_, null, 'server-nonce-1')) === '28JDB';
});
await test('tampered proof (htu changed after signing): 28JD5', async () => {
    const [h, p, s] = (await DPoP.generateProof(pair, URL_, 'GET')).split('.');
    const claims = JSON.parse(Buffer.from(p, 'base64url'));
    claims.htu = 'https://api.example.com/admin';
    return await outcome(verify(`${h}.${b64u(JSON.stringify(claims))}.${s}`, 'GET', claims.htu)) === '28JD5';
});

// made with jose: what a real client never sends
const ex = await jose.generateKeyPair('ES256', { extractable: true });
const exPub = await jose.exportJWK(ex.publicKey);
const exPriv = await jose.exportJWK(ex.privateKey);
const josed = (claims, header, key = ex.privateKey) =>
    new jose.SignJWT(claims).setProtectedHeader(header).sign(key);
const fresh = (extra = {}) => ({ jti: randomUUID(), htm: 'GET', htu: URL_, iat: now(), ...extra });

await test('jose-made proof verifies (control)', async () =>
    await outcome(verify(await josed(fresh(), { alg: 'ES256', typ: 'dpop+jwt', jwk: exPub }), 'GET', URL_)) === 'ok');
await test('stale proof (iat an hour ago): 28JD8', async () =>
    await outcome(verify(await josed(fresh({ iat: now() - 3600 }), { alg: 'ES256', typ: 'dpop+jwt', jwk: exPub }), 'GET', URL_)) === '28JD8');
await test('proof from the future (iat in an hour): 28JD8', async () =>
    await outcome(verify(await josed(fresh({ iat: now() + 3600 }), { alg: 'ES256', typ: 'dpop+jwt', jwk: exPub }), 'GET', URL_)) === '28JD8');
await test('private key in the header (jwk with "d"): 28JD4', async () =>
    await outcome(verify(await josed(fresh(), { alg: 'ES256', typ: 'dpop+jwt', jwk: exPriv }), 'GET', URL_)) === '28JD4');
await test('key-mismatched proof (signed by another key than its jwk): 28JD5', async () =>
    await outcome(verify(await josed(fresh(), { alg: 'ES256', typ: 'dpop+jwt', jwk: await jose.exportJWK(pair.publicKey) }), 'GET', URL_)) === '28JD5');
await test('HS256 proof (symmetric key as an oct jwk): 28JD3', async () => {
    const secret = randomBytes(32);
    return await outcome(verify(await josed(fresh(), { alg: 'HS256', typ: 'dpop+jwt', jwk: { kty: 'oct', k: b64u(secret) } }, secret), 'GET', URL_)) === '28JD3';
});
await test('alg none proof: 28JD3', async () => {
    const h = b64u(JSON.stringify({ alg: 'none', typ: 'dpop+jwt', jwk: exPub }));
    return await outcome(verify(`${h}.${b64u(JSON.stringify(fresh()))}.AA`, 'GET', URL_)) === '28JD3';
});
await test('typ JWT (an access token passed off as a proof): 28JD2', async () =>
    await outcome(verify(await josed(fresh(), { alg: 'ES256', typ: 'JWT', jwk: exPub }), 'GET', URL_)) === '28JD2');

// ---------- two sessions, one proof: exactly one wins ----------
const other = new pg.Client();
await other.connect();
await test('two sessions, one proof: the second waits for the first and is refused once it commits', async () => {
    const proof = await DPoP.generateProof(pair, URL_, 'GET');
    await q('BEGIN');
    const first = await outcome(verify(proof, 'GET', URL_));
    const second = outcome(other.query('SELECT jwt_dpop_verify($1, $2, $3)', [proof, 'GET', URL_]));
    await new Promise((r) => setTimeout(r, 200));
    await q('COMMIT');
    return first === 'ok' && await second === '28JD9';
});
await test('two sessions, one proof: when the first rolls back, the second is accepted', async () => {
    const proof = await DPoP.generateProof(pair, URL_, 'GET');
    await q('BEGIN');
    const first = await outcome(verify(proof, 'GET', URL_));
    const second = outcome(other.query('SELECT jwt_dpop_verify($1, $2, $3)', [proof, 'GET', URL_]));
    await new Promise((r) => setTimeout(r, 200));
    await q('ROLLBACK');
    return first === 'ok' && await second === 'ok';
});
await other.end();

// ---------- bound tokens: jwt_authenticate(token, proof, method, url) ----------
await q("SELECT jwt_generate_key('ES256', 'dpop-interop')");
const sign = async (claims) =>
    (await q("SELECT jwt_sign($1::jsonb, header => '{\"kid\":\"dpop-interop\"}') AS t", [claims])).rows[0].t;
const bound = await sign({ sub: 'alice', cnf: { jkt } });
const authenticate = (token, proof, method = 'GET', url = URL_) =>
    q('SELECT jwt_authenticate($1, $2, $3, $4) AS c', [token, proof, method, url]);
const ath = (t) => b64u(createHash('sha256').update(t).digest());

await test('bound token with the dpop client\'s proof (DPoP scheme): accepted', async () => {
    const proof = await DPoP.generateProof(pair, URL_, 'GET', undefined, bound);
    const { rows } = await authenticate(`DPoP ${bound}`, proof);
    return rows[0].c.sub === 'alice';
});
await test('bound token, proof key is not cnf.jkt: 28JDC', async () => {
    const proof = await DPoP.generateProof(pairs.RS256, URL_, 'GET', undefined, bound);
    return await outcome(authenticate(`DPoP ${bound}`, proof)) === '28JDC';
});
await test('token stolen without the key, sent as a bearer token: 28JDD', async () =>
    await outcome(authenticate(`Bearer ${bound}`, null, null, null)) === '28JDD');
await test('token stolen without the key, sent without a proof: 28JDC', async () =>
    await outcome(authenticate(bound, null, null, null)) === '28JDC');
await test('bound token with a proof made for another token (ath): 28JDA', async () => {
    const proof = await DPoP.generateProof(pair, URL_, 'GET', undefined, await sign({ sub: 'mallory', cnf: { jkt } }));
    return await outcome(authenticate(`DPoP ${bound}`, proof)) === '28JDA';
});
await test('bound token, proof replayed: 28JD9', async () => {
    const proof = await DPoP.generateProof(pair, URL_, 'GET', undefined, bound);
    return await outcome(authenticate(`DPoP ${bound}`, proof)) === 'ok' &&
        await outcome(authenticate(`DPoP ${bound}`, proof)) === '28JD9';
});
await test('bound token, stale proof: 28JD8', async () => {
    const p = await josed(fresh({ iat: now() - 3600, ath: ath(bound) }), { alg: 'ES256', typ: 'dpop+jwt', jwk: exPub });
    const t = await sign({ sub: 'alice', cnf: { jkt: await jose.calculateJwkThumbprint(exPub) } });
    const p2 = await josed(fresh({ iat: now() - 3600, ath: ath(t) }), { alg: 'ES256', typ: 'dpop+jwt', jwk: exPub });
    return p !== p2 && await outcome(authenticate(`DPoP ${t}`, p2)) === '28JD8';
});
await test('unbound token: unaffected (bearer)', async () =>
    await outcome(authenticate(`Bearer ${await sign({ sub: 'bob' })}`, null, null, null)) === 'ok');
await q("SELECT jwt_retire_key('dpop-interop')");

await db.end();
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
