// Interoperability test: the jwt PostgreSQL extension <-> the `jose` npm package.
//
// Run through the wrapper (it installs the pinned packages with `npm ci` when
// node_modules is missing or stale):
//
//     . test/cluster.sh; cluster_start; psql -c 'create extension jwt'
//     test/jose_interop.t.sh
//
// or directly, from this directory, once `npm ci` has run:  node jose_interop.mjs
// Connection parameters come from the usual PG* environment variables; the
// user must be a superuser (keyring signing with jwt_sign(claims)).
//
// Libraries (exact versions pinned in package.json / package-lock.json):
//   jose   6.x  (WebCrypto): HS*, RS*, PS*, ES*, EdDSA with Ed25519, and
//          Ed25519 (RFC 9864's fully-specified name for EdDSA over Ed25519).
//   jose5  = jose 5.10.0 (node:crypto backend), for EdDSA with Ed448 only:
//          jose 6 dropped Ed448 (its EdDSA is Ed25519 only), jose 5's Node
//          build still signs, verifies, imports and exports Ed448 keys.
//   pg     node-postgres, for the database.
//
// For every algorithm (HS256..HS512, RS256..RS512, PS256..PS512, ES256..ES512,
// EdDSA with Ed25519 and with Ed448) a fresh key is generated here and:
//
//   A  jose signs (SignJWT)                 -> SELECT jwt_verify(token, key)
//      returns exactly the claims; the key as SPKI PEM (exportSPKI), public
//      JWK, JWK with alg/kid/use, private JWK, HMAC secret as bytea and text,
//      oct JWK;
//   B  SELECT jwt_sign(claims, key, alg)   -> jose jwtVerify(token, publicKey,
//      {algorithms: [alg]}) returns the claims (plus at most iat/exp/jti); the
//      key as PKCS#8 PEM (exportPKCS8), private JWK, secret as bytea and text;
//   N  a jose token signed with another key -> 28J03; a tampered payload ->
//      28J03; a JWK whose "alg" pins another algorithm -> 28J07.
//
// Keyring: jose's public (and private) JWKs load with jwt_import_jwks() and
// jwt_add_key(), and jose tokens with their kid verify with jwt_verify(token);
// keys made by jwt_generate_key() sign with jwt_sign(claims), and jose verifies
// those tokens with createLocalJWKSet(jwt_jwks()), whose kids are the RFC 7638
// thumbprints jose computes. Refusals: wrong key 28J03, unknown kid 28J0D,
// jose's UnsecuredJWT (alg none) 22J01, HS256 MACed with the public key text
// 28J07.
//
// Output: one "ok - ..." / "not ok - ...: reason" line per case, then
// "N passed, M failed". Exit status 1 if anything failed.

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';

import * as jose from 'jose';
import * as jose5 from 'jose5';
import pg from 'pg';

const VERBOSE = !['', '0', undefined].includes(process.env.INTEROP_VERBOSE);

let passed = 0;
let failed = 0;

class Fail extends Error {}

function report(name, ok, reason = '') {
    if (ok) {
        passed++;
        console.log(`ok - ${name}`);
    } else {
        failed++;
        console.log(`not ok - ${name} : ${String(reason).split(/\s+/).join(' ')}`);
    }
}

function isDbError(e) {
    return e instanceof pg.DatabaseError;
}

async function test(name, fn) {
    try {
        await fn();
    } catch (e) {
        if (e instanceof Fail) {
            report(name, false, e.message);
        } else if (isDbError(e)) {
            report(name, false, `SQLSTATE ${e.code}: ${e.message}`);
        } else {
            if (VERBOSE) console.error(e);
            report(name, false, `${e?.name ?? typeof e}: ${e?.message ?? e}`);
        }
        return;
    }
    report(name, true);
}

// ---------------------------------------------------------------- helpers

const b64u = jose.base64url;
const utf8 = (s) => new TextEncoder().encode(s);
const show = (v) => JSON.stringify(v);
const short = (v) => (typeof v === 'string' && v.length > 80 ? v.slice(0, 80) + '...' : show(v));

function checkCompact(token) {
    if (typeof token !== 'string') throw new Fail(`token is ${typeof token}, not text`);
    const parts = token.split('.');
    if (parts.length !== 3) throw new Fail(`token has ${parts.length} segments: ${short(token)}`);
    for (const p of parts) {
        if (!/^[A-Za-z0-9_-]*$/.test(p)) throw new Fail(`segment is not base64url: ${short(p)}`);
    }
    return parts;
}

function makeClaims(tag) {
    const now = Math.floor(Date.now() / 1000);
    return {
        sub: `user-42-${tag}`,
        iat: now,
        exp: now + 300,
        iss: 'jose-interop',
        nested: { a: 1, b: [true, null, -7], c: { d: 'e', empty: {} } },
        greeting: 'héllo ✓',
        astral: 'smile \u{1F600}, "quotes" \\ / \t tab \u2028 sep',
        list: [1, 2.5, 'x', false, [], { k: 'v' }],
        big: 9007199254740991,
        neg: -12345,
    };
}

const ADDABLE = new Set(['iat', 'exp', 'jti']); // members jwt_sign may add on its own

function checkClaims(sent, got, mayAdd) {
    if (got === null || typeof got !== 'object' || Array.isArray(got)) {
        throw new Fail(`got ${short(got)}, expected a JSON object`);
    }
    const sub = mayAdd ? Object.fromEntries(Object.keys(sent).map((k) => [k, k in got ? got[k] : '<missing>'])) : got;
    if (!isDeepStrictEqual(sub, sent)) {
        throw new Fail(`claims differ: sent ${show(sent)}, got ${show(got)}`);
    }
    if (mayAdd) {
        const extra = Object.keys(got).filter((k) => !(k in sent) && !ADDABLE.has(k));
        if (extra.length) throw new Fail(`jwt_sign added unexpected members ${show(extra)}`);
    }
}

// The header and signature of a token made by jwt_sign.
function checkSqlToken(token, alg, sigLen, kid) {
    const [h, , s] = checkCompact(token);
    const header = JSON.parse(new TextDecoder().decode(b64u.decode(h)));
    if (header.alg !== alg) throw new Fail(`header alg is ${show(header.alg)}, expected ${show(alg)}`);
    if (header.typ !== 'JWT') throw new Fail(`header typ is ${show(header.typ)}, expected "JWT"`);
    if (kid !== undefined && header.kid !== kid) throw new Fail(`header kid is ${show(header.kid)}, expected ${show(kid)}`);
    const sig = b64u.decode(s);
    if (sigLen !== undefined && sig.length !== sigLen) {
        throw new Fail(`signature is ${sig.length} bytes, expected ${sigLen}`);
    }
    return header;
}

async function joseSign(lib, claims, alg, key, header = {}) {
    return new lib.SignJWT(claims).setProtectedHeader({ alg, ...header }).sign(key);
}

async function joseVerify(lib, token, key, alg) {
    try {
        return (await lib.jwtVerify(token, key, { algorithms: [alg] })).payload;
    } catch (e) {
        throw new Fail(`jose refused the token: ${e.code ?? e.name}: ${e.message} (token ${token})`);
    }
}

// ---------------------------------------------------------------- SQL access

let client = null;

async function q(text, values) {
    const r = await client.query({ text, values, rowMode: 'array' });
    return r.rows[0][0];
}

// [SQL placeholder, parameter] for a key: Uint8Array -> bytea, string -> text.
function keyParam(key, n) {
    if (key instanceof Uint8Array) return [`$${n}::bytea`, Buffer.from(key)];
    if (typeof key === 'string') return [`$${n}::text`, key];
    throw new Error(`key of type ${typeof key}`);
}

// key undefined: the keyring.
async function sqlVerify(token, key, algorithms) {
    const vals = [token];
    let sql = 'SELECT jwt_verify($1::text';
    if (key !== undefined) {
        const [ph, kp] = keyParam(key, vals.length + 1);
        vals.push(kp);
        sql += `, ${ph}`;
    }
    if (algorithms) {
        vals.push(algorithms);
        sql += `, algorithms => $${vals.length}::text[]`;
    }
    return q(sql + ')', vals);
}

// key undefined: the keyring; alg null: the default from the key.
async function sqlSign(claims, key, alg, header) {
    const vals = [JSON.stringify(claims)];
    let sql = 'SELECT jwt_sign($1::jsonb';
    if (key !== undefined) {
        const [ph, kp] = keyParam(key, vals.length + 1);
        vals.push(kp);
        sql += `, ${ph}`;
    }
    if (alg) {
        vals.push(alg);
        sql += `, alg => $${vals.length}::text`;
    }
    if (header) {
        vals.push(JSON.stringify(header));
        sql += `, header => $${vals.length}::jsonb`;
    }
    return q(sql + ')', vals);
}

// fn() must fail with SQLSTATE code (or one of an array of codes).
async function expectSqlstate(codes, fn) {
    codes = [].concat(codes);
    let res;
    try {
        res = await fn();
    } catch (e) {
        if (!isDbError(e)) throw e;
        if (!codes.includes(e.code)) {
            throw new Fail(`expected SQLSTATE ${codes.join('/')}, got ${e.code}: ${e.message}`);
        }
        return;
    }
    throw new Fail(`expected SQLSTATE ${codes.join('/')}, but the call succeeded and returned ${short(res)}`);
}

// ---------------------------------------------------------------- the checks

// A: jose signs -> jwt_verify.
function directionA(lib, alg, signKey, verifyKey, label, { algorithms, header } = {}) {
    return test(`${alg} jose->jwt_verify (${label})`, async () => {
        const claims = makeClaims(alg);
        const token = await joseSign(lib, claims, alg, signKey, header);
        checkClaims(claims, await sqlVerify(token, verifyKey, algorithms), false);
    });
}

// B: jwt_sign -> jose jwtVerify. sqlAlg null: the algorithm defaults from the key.
function directionB(lib, alg, signKey, verifyKey, label, { sqlAlg = alg, sigLen } = {}) {
    const what = sqlAlg === null ? `default alg, ${label}` : label;
    return test(`${alg} jwt_sign->jose (${what})`, async () => {
        const claims = makeClaims(alg);
        const token = await sqlSign(claims, signKey, sqlAlg);
        checkSqlToken(token, alg, sigLen);
        checkClaims(claims, await joseVerify(lib, token, verifyKey, alg), true);
    });
}

// N: a jose token signed with a different key -> 28J03.
function wrongKey(lib, alg, otherSignKey, verifyKey, label) {
    return test(`${alg} wrong key refused with 28J03 (${label})`, async () => {
        const token = await joseSign(lib, makeClaims(alg), alg, otherSignKey);
        await expectSqlstate('28J03', () => sqlVerify(token, verifyKey));
    });
}

// N: a jose token whose payload is changed after signing -> 28J03.
function tampered(lib, alg, signKey, verifyKey, label) {
    return test(`${alg} tampered payload refused with 28J03 (${label})`, async () => {
        const claims = makeClaims(alg);
        const [h, , s] = (await joseSign(lib, claims, alg, signKey)).split('.');
        const p = b64u.encode(JSON.stringify({ ...claims, sub: 'admin' }));
        await expectSqlstate('28J03', () => sqlVerify(`${h}.${p}.${s}`, verifyKey));
    });
}

// ---------------------------------------------------------------- per family

async function testHmac() {
    for (const [alg, n] of [['HS256', 32], ['HS384', 48], ['HS512', 64]]) {
        const secret = new Uint8Array(randomBytes(n));
        const other = new Uint8Array(randomBytes(n));
        // bytea secret: raw random bytes, passed as a Buffer
        await directionA(jose, alg, secret, secret, 'bytea secret');
        await directionB(jose, alg, secret, secret, 'bytea secret');
        await wrongKey(jose, alg, other, secret, 'bytea secret');
        await tampered(jose, alg, secret, secret, 'bytea secret');
        // text secret: printable ASCII, 43+ characters; jose gets its UTF-8 bytes
        const tsecret = b64u.encode(randomBytes(n));
        await directionA(jose, alg, utf8(tsecret), tsecret, 'text secret');
        await directionB(jose, alg, tsecret, utf8(tsecret), 'text secret');
        await wrongKey(jose, alg, utf8(b64u.encode(other)), tsecret, 'text secret');
        // oct JWK from jose's exportJWK, both directions
        const jwk = JSON.stringify(await jose.exportJWK(secret));
        await directionA(jose, alg, secret, jwk, 'oct JWK');
        await directionB(jose, alg, jwk, secret, 'oct JWK');
        await wrongKey(jose, alg, other, jwk, 'oct JWK');
        if (alg === 'HS256') {
            // the default algorithm for a secret is HS256
            await directionB(jose, alg, secret, secret, 'bytea secret', { sqlAlg: null });
            await directionB(jose, alg, tsecret, utf8(tsecret), 'text secret', { sqlAlg: null });
            await directionA(jose, alg, secret, secret, 'bytea secret, header typ and kid',
                { header: { typ: 'JWT', kid: 'some-kid' } });
        }
    }
}

// Asymmetric algorithms. Ed448 goes through jose 5 (see the top of the file).
const ASYM = [
    ...['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'].map((alg) => ({ alg, kty: 'RSA', label: 'RSA', sigLen: 256 })),
    { alg: 'ES256', kty: 'EC', label: 'P-256', sigLen: 64 },
    { alg: 'ES384', kty: 'EC', label: 'P-384', sigLen: 96 },
    { alg: 'ES512', kty: 'EC', label: 'P-521', sigLen: 132 },
    { alg: 'EdDSA', kty: 'OKP', label: 'Ed25519', sigLen: 64 },
    { alg: 'EdDSA', kty: 'OKP', label: 'Ed448', sigLen: 114, lib: jose5, opts: { crv: 'Ed448' } },
    // RFC 9864's fully-specified name, which jose 6 signs with
    { alg: 'Ed25519', kty: 'OKP', label: 'Ed25519, RFC 9864 name', sigLen: 64 },
];

async function genKeys(spec) {
    const lib = spec.lib ?? jose;
    const kp = await lib.generateKeyPair(spec.alg, { extractable: true, ...(spec.opts ?? {}) });
    return {
        lib,
        priv: kp.privateKey,
        pub: kp.publicKey,
        spki: await lib.exportSPKI(kp.publicKey),
        pkcs8: await lib.exportPKCS8(kp.privateKey),
        jwkPub: await lib.exportJWK(kp.publicKey),
        jwkPriv: await lib.exportJWK(kp.privateKey),
    };
}

// The default algorithm jwt_sign picks for a key of this spec.
const defaultAlg = (spec) => (spec.kty === 'RSA' ? 'RS256' : spec.kty === 'OKP' ? 'EdDSA' : spec.alg);

async function testAsymmetric() {
    for (const spec of ASYM) {
        const { alg, label, sigLen } = spec;
        const k = await genKeys(spec);
        const o = await genKeys(spec); // another key of the same kind
        const lib = k.lib;
        const L = (s) => `${label}, ${s}`;
        if (!k.spki.startsWith('-----BEGIN PUBLIC KEY-----') || !k.pkcs8.startsWith('-----BEGIN PRIVATE KEY-----')) {
            report(`${alg} jose PEM export (${label})`, false, `unexpected PEM: ${short(k.spki)} / ${short(k.pkcs8)}`);
        }
        const jwkPub = JSON.stringify(k.jwkPub);
        const jwkPriv = JSON.stringify(k.jwkPriv);
        const jwkPinned = JSON.stringify({ ...k.jwkPub, alg, kid: 'pinned', use: 'sig' });

        // A: jose signs, every public encoding verifies
        await directionA(lib, alg, k.priv, k.spki, L('SPKI public PEM'));
        await directionA(lib, alg, k.priv, k.spki, L(`SPKI public PEM, algorithms => {${alg}}`), { algorithms: [alg] });
        await directionA(lib, alg, k.priv, jwkPub, L('public JWK'));
        await directionA(lib, alg, k.priv, jwkPinned, L('public JWK with alg, kid, use'), { header: { kid: 'pinned' } });
        await directionA(lib, alg, k.priv, jwkPriv, L('private JWK as verify key'));
        // B: jwt_sign with every private encoding, jose verifies with its public key
        await directionB(lib, alg, k.pkcs8, k.pub, L('PKCS#8 private PEM'), { sigLen });
        await directionB(lib, alg, jwkPriv, k.pub, L('private JWK'), { sigLen });
        if (defaultAlg(spec) === alg) {
            await directionB(lib, alg, k.pkcs8, k.pub, L('PKCS#8 private PEM'), { sqlAlg: null, sigLen });
        }
        // N
        await wrongKey(lib, alg, o.priv, k.spki, L('SPKI public PEM'));
        await wrongKey(lib, alg, o.priv, jwkPub, L('public JWK'));
        await tampered(lib, alg, k.priv, k.spki, L('SPKI public PEM'));
        if (spec.kty === 'RSA') {
            // a JWK's "alg" pins one algorithm: RS <-> PS with the same hash is refused
            const pinnedTo = alg.replace(/^RS|^PS/, (m) => (m === 'RS' ? 'PS' : 'RS'));
            await test(`${alg} token refused with 28J07 by a JWK pinned to ${pinnedTo} (${label})`, async () => {
                const token = await joseSign(lib, makeClaims(alg), alg, k.priv);
                await expectSqlstate('28J07', () => sqlVerify(token, JSON.stringify({ ...k.jwkPub, alg: pinnedTo })));
            });
        }
        if (alg === 'RS256') await testJwks(k, o);
    }
}

// A JWKS made of jose's JWKs, passed as the key: the token's kid picks the key.
async function testJwks(k, o) {
    const alg = 'RS256';
    const ec = await genKeys({ alg: 'ES256' });
    const jwks = JSON.stringify({
        keys: [
            { ...o.jwkPub, kid: 'k-other' },
            { ...k.jwkPub, kid: 'k-right' },
            { ...ec.jwkPub, kid: 'k-ec' },
        ],
    });
    await directionA(jose, alg, k.priv, jwks, 'JWKS, kid selects key', { header: { kid: 'k-right' } });
    await directionA(jose, alg, k.priv, jwks, 'JWKS, kid selects key, algorithms => {RS256}',
        { header: { kid: 'k-right' }, algorithms: [alg] });
    await test('RS256 JWKS with unknown kid refused with 28J0D', async () => {
        const token = await joseSign(jose, makeClaims('x'), alg, k.priv, { kid: 'nope' });
        await expectSqlstate('28J0D', () => sqlVerify(token, jwks));
    });
    await test('RS256 JWKS, kid of another key refused with 28J03', async () => {
        const token = await joseSign(jose, makeClaims('x'), alg, k.priv, { kid: 'k-other' });
        await expectSqlstate('28J03', () => sqlVerify(token, jwks));
    });
}

// Tokens jose produces that must be refused.
async function testRefusals() {
    const k = await genKeys({ alg: 'RS256', kty: 'RSA' });
    const secret = new Uint8Array(randomBytes(32));
    const claims = makeClaims('refusal');

    // alg none: jose's UnsecuredJWT ("header.payload." with an empty signature)
    await test('alg none token from jose UnsecuredJWT refused with 22J01 (SPKI PEM, bytea secret, keyring)', async () => {
        const token = new jose.UnsecuredJWT(claims).encode();
        if (!token.endsWith('.')) throw new Fail(`unexpected unsecured JWT ${short(token)}`);
        await expectSqlstate('22J01', () => sqlVerify(token, k.spki));
        await expectSqlstate('22J01', () => sqlVerify(token, secret));
        await expectSqlstate('22J01', () => sqlVerify(token, undefined));
    });
    // the same header and payload with a non-empty signature: "none" is no algorithm
    await test('alg none token with a signature appended refused with 28J07', async () => {
        const [h, p] = new jose.UnsecuredJWT(claims).encode().split('.');
        const token = `${h}.${p}.${b64u.encode(randomBytes(32))}`;
        await expectSqlstate('28J07', () => sqlVerify(token, k.spki));
        await expectSqlstate('28J07', () => sqlVerify(token, secret));
    });
    // classic key confusion: jose MACs HS256 with the RSA public key text as the secret
    for (const [label, keytext] of [['SPKI public PEM', k.spki], ['RSA public JWK', JSON.stringify(k.jwkPub)]]) {
        await test(`HS256 token MACed by jose with the RSA key text refused with 28J07 (${label})`, async () => {
            const token = await joseSign(jose, claims, 'HS256', utf8(keytext));
            await expectSqlstate('28J07', () => sqlVerify(token, keytext));
        });
        // as bytea the key text is a secret, and a secret that is a PEM or JSON
        // key is the caller's mistake: 22023 (expected/jwt_keys.out: pem_as_bytea_secret)
        await test(`HS256 token MACed by jose with the RSA key text, key as bytea, refused with 22023 (${label})`, async () => {
            const token = await joseSign(jose, claims, 'HS256', utf8(keytext));
            await expectSqlstate('22023', () => sqlVerify(token, new Uint8Array(utf8(keytext))));
        });
    }
}

// ---------------------------------------------------------------- keyring

const RUN = b64u.encode(randomBytes(6)); // kids unique to this run

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

async function sqlJwks() {
    const jwks = await q('SELECT jwt_jwks()');
    if (!jwks || !Array.isArray(jwks.keys)) throw new Fail(`jwt_jwks() returned ${short(jwks)}`);
    return jwks;
}

// jose's JWKs -> jwt_import_jwks(jwks, issuer) -> jose tokens with their kid (and that iss) -> jwt_verify(token).
// The provider's issuer is its own: a key of this database never verifies a token of an
// issuer whose keys were imported, so the other tests' iss ('jose-interop') stays ours.
const IDP_ISS = 'https://jose-idp.example';
const idpClaims = (tag) => ({ ...makeClaims(tag), iss: IDP_ISS });
async function testKeyringImport() {
    const specs = ASYM.map((s) => ({ ...s, kid: `jose-${s.alg}-${s.label}-${RUN}` }));
    const keys = [];
    for (const s of specs) keys.push({ ...s, k: await genKeys(s) });
    const noAlg = { alg: 'RS256', kty: 'RSA', label: 'RSA, JWK without alg', kid: `jose-rsa-noalg-${RUN}` };
    noAlg.k = await genKeys(noAlg);
    const enc = await genKeys({ alg: 'RS256' });

    const jwks = {
        keys: [
            ...keys.map(({ alg, kid, k }) => ({ ...k.jwkPub, kid, alg, use: 'sig' })),
            { ...noAlg.k.jwkPub, kid: noAlg.kid },
            { ...enc.jwkPub, kid: `jose-enc-${RUN}`, use: 'enc' }, // skipped by the import
        ],
    };
    let imported = false;
    await test(`jwt_import_jwks loads jose's public JWKs (${keys.length + 1} sig keys, 1 enc key skipped)`, async () => {
        const n = await q('SELECT jwt_import_jwks($1::jsonb, $2)', [JSON.stringify(jwks), IDP_ISS]);
        if (n !== keys.length + 1) throw new Fail(`jwt_import_jwks returned ${n}, expected ${keys.length + 1}`);
        imported = true;
        const rows = (await client.query(
            `SELECT kid, alg, kty, origin, state, has_private FROM jwt_key_list WHERE kid LIKE '%' || $1`, [RUN])).rows;
        const byKid = Object.fromEntries(rows.map((r) => [r.kid, r]));
        for (const { kid, alg, kty } of [...keys, noAlg]) {
            const r = byKid[kid];
            if (!r) throw new Fail(`kid ${kid} is not in jwt_key_list`);
            const want = { kid, alg: kid === noAlg.kid ? r.alg : alg, kty, origin: 'jwks', state: 'active', has_private: false };
            if (!isDeepStrictEqual(r, want)) throw new Fail(`jwt_key_list row ${show(r)}, expected ${show(want)}`);
        }
        if (byKid[`jose-enc-${RUN}`]) throw new Fail('the use=enc key was imported');
    });
    if (!imported) return;

    for (const { alg, label, kid, k } of keys) {
        await test(`${alg} jose->jwt_verify(token) with the keyring (${label}, imported public JWK)`, async () => {
            const claims = idpClaims(`${alg}-keyring`);
            const token = await joseSign(k.lib, claims, alg, k.priv, { kid, typ: 'JWT' });
            checkClaims(claims, await sqlVerify(token, undefined), false);
        });
    }
    for (const alg of ['RS256', 'PS384']) {
        await test(`${alg} jose->jwt_verify(token) with the keyring (imported RSA JWK without alg)`, async () => {
            const claims = idpClaims(`${alg}-noalg`);
            // a WebCrypto key is bound to one scheme: import the PKCS#8 PEM for this alg
            const priv = await jose.importPKCS8(noAlg.k.pkcs8, alg);
            const token = await joseSign(jose, claims, alg, priv, { kid: noAlg.kid });
            checkClaims(claims, await sqlVerify(token, undefined), false);
        });
    }
    const es = keys.find((x) => x.alg === 'ES256');
    await test('ES256 keyring: jose token with the kid of another key refused with 28J03', async () => {
        const other = await genKeys({ alg: 'ES256' });
        const token = await joseSign(jose, idpClaims('x'), 'ES256', other.priv, { kid: es.kid });
        await expectSqlstate('28J03', () => sqlVerify(token, undefined));
    });
    await test('ES256 keyring: jose token with an unknown kid refused with 28J0D', async () => {
        const token = await joseSign(jose, idpClaims('x'), 'ES256', es.k.priv, { kid: `unknown-${RUN}` });
        await expectSqlstate('28J0D', () => sqlVerify(token, undefined));
    });
    await test('jwt_jwks() does not publish imported public-only keys', async () => {
        const listed = (await sqlJwks()).keys.map((x) => x.kid).filter((kid) => kid.endsWith(RUN));
        if (listed.length) throw new Fail(`jwt_jwks() lists ${show(listed)}`);
    });

    // an HMAC secret as an oct JWK in a JWKS: a published secret, refused (issue 12 item 20)
    await test('HS256 jwt_import_jwks refuses an oct JWK (22023); jwt_add_key takes it and it verifies', async () => {
        const secret = new Uint8Array(randomBytes(32));
        const kid = `jose-oct-${RUN}`;
        const jwk = { ...(await jose.exportJWK(secret)), kid, alg: 'HS256' };
        await expectSqlstate('22023', () => q('SELECT jwt_import_jwks($1::jsonb)', [JSON.stringify({ keys: [jwk] })]));
        const got = await q('SELECT jwt_add_key($1)', [JSON.stringify(jwk)]);
        if (got !== kid) throw new Fail(`jwt_add_key returned ${show(got)}, expected ${show(kid)}`);
        // it has secret material, so it would sign; retire it once checked so
        // that the keyring signing tests below use the keys they generate
        try {
            const claims = makeClaims('HS256-keyring');
            checkClaims(claims, await sqlVerify(await joseSign(jose, claims, 'HS256', secret, { kid }), undefined), false);
            const listed = (await sqlJwks()).keys.filter((x) => x.kid === kid || x.kty === 'oct' || 'k' in x);
            if (listed.length) throw new Fail(`jwt_jwks() publishes the secret: ${show(listed)}`);
        } finally {
            await q('SELECT jwt_retire_key($1)', [kid]);
        }
    });
}

// jose private keys into the keyring (jwt_add_key with PKCS#8 PEM, a private
// JWK or a public SPKI PEM; jwt_import_jwks refuses the private JWKs): jwt_sign(claims, header =>
// {"kid": ...}) signs with them and jose verifies with its own public key.
async function testKeyringPrivate() {
    const cases = [
        { alg: 'RS256', label: 'RSA', how: 'jwt_add_key private JWK' },
        { alg: 'ES256', label: 'P-256', how: 'jwt_add_key private JWK' },
        { alg: 'EdDSA', label: 'Ed25519', how: 'jwt_add_key private JWK' },
        { alg: 'EdDSA', label: 'Ed448', how: 'jwt_add_key private JWK', lib: jose5, opts: { crv: 'Ed448' } },
        { alg: 'PS256', label: 'RSA', how: 'jwt_add_key PKCS#8 PEM' },
        { alg: 'ES384', label: 'P-384', how: 'jwt_add_key private JWK' },
        { alg: 'ES512', label: 'P-521', how: 'jwt_add_key PKCS#8 PEM, kid = thumbprint' },
        { alg: 'EdDSA', label: 'Ed25519', how: 'jwt_add_key PKCS#8 PEM' },
        { alg: 'EdDSA', label: 'Ed448', how: 'jwt_add_key PKCS#8 PEM', lib: jose5, opts: { crv: 'Ed448' } },
    ];
    for (const [i, c] of cases.entries()) {
        await test(`${c.alg} ${c.how} -> jwt_sign(claims, header kid) -> jose (${c.label})`, async () => {
            const k = await genKeys(c);
            const thumb = await k.lib.calculateJwkThumbprint(k.jwkPub);
            let kid = `jose-priv-${i}-${c.alg}-${c.label}-${RUN}`;
            if (c.how === 'jwt_add_key private JWK') {
                // a private JWK in a JWKS is a leak: the import refuses it (issue 12 item 20)
                await expectSqlstate('22023', () => q('SELECT jwt_import_jwks($1::jsonb)',
                    [JSON.stringify({ keys: [{ ...k.jwkPriv, kid, alg: c.alg }] })]));
                const got = await q('SELECT jwt_add_key($1)', [JSON.stringify({ ...k.jwkPriv, kid, alg: c.alg })]);
                if (got !== kid) throw new Fail(`jwt_add_key returned ${show(got)}, expected the JWK's kid ${show(kid)}`);
            } else if (c.how.endsWith('kid = thumbprint')) {
                kid = await q('SELECT jwt_add_key($1, $2)', [k.pkcs8, c.alg]);
                if (kid !== thumb) throw new Fail(`jwt_add_key returned kid ${show(kid)}, jose's RFC 7638 thumbprint is ${show(thumb)}`);
            } else {
                const got = await q('SELECT jwt_add_key($1, $2, $3)', [k.pkcs8, c.alg, kid]);
                if (got !== kid) throw new Fail(`jwt_add_key returned ${show(got)}, expected ${show(kid)}`);
            }
            const claims = makeClaims(`${c.alg}-priv`);
            const token = await sqlSign(claims, undefined, null, { kid });
            checkSqlToken(token, c.alg, undefined, kid);
            checkClaims(claims, await joseVerify(k.lib, token, k.pub, c.alg), true);
            // the key now signs, so jwt_jwks() publishes its public part
            const jwk = (await sqlJwks()).keys.find((x) => x.kid === kid);
            if (!jwk) throw new Fail(`kid ${kid} is not in jwt_jwks()`);
            const bad = PRIVATE_MEMBERS.filter((m) => m in jwk);
            if (bad.length) throw new Fail(`jwt_jwks() publishes private members ${show(bad)}`);
            if ((await k.lib.calculateJwkThumbprint(jwk)) !== thumb) {
                throw new Fail(`jwt_jwks() key ${show(jwk)} is not jose's public key ${show(k.jwkPub)}`);
            }
        });
    }
    await test('ES256 jwt_add_key public SPKI PEM (verify only) -> jose token with its kid -> jwt_verify(token)', async () => {
        const k = await genKeys({ alg: 'ES256' });
        const kid = await q('SELECT jwt_add_key($1, kid => $2)', [k.spki, `jose-spki-${RUN}`]);
        const claims = makeClaims('ES256-spki');
        checkClaims(claims, await sqlVerify(await joseSign(jose, claims, 'ES256', k.priv, { kid }), undefined), false);
        if ((await sqlJwks()).keys.some((x) => x.kid === kid)) throw new Fail('jwt_jwks() lists a verify-only key');
    });
}

// jwt_generate_key(alg) -> jwt_sign(claims) with the keyring -> jose verifies
// with createLocalJWKSet(jwt_jwks()).
async function testKeyringSigning() {
    const algs = ['ES256', 'RS256', 'PS256', 'EdDSA', 'ES384', 'ES512', 'RS384', 'RS512', 'PS384', 'PS512'];
    const tokens = {};
    for (const alg of algs) {
        await test(`${alg} jwt_generate_key + jwt_sign(claims) -> jose createLocalJWKSet(jwt_jwks())`, async () => {
            const kid = await q('SELECT jwt_generate_key($1)', [alg]);
            const claims = makeClaims(`${alg}-generated`);
            const token = await sqlSign(claims, undefined, null);
            checkSqlToken(token, alg, undefined, kid);
            const jwks = await sqlJwks();
            for (const jwk of jwks.keys) {
                const bad = PRIVATE_MEMBERS.filter((m) => m in jwk);
                if (bad.length) throw new Fail(`jwt_jwks() key ${jwk.kid} has private members ${show(bad)}`);
            }
            const jwk = jwks.keys.find((x) => x.kid === kid);
            if (!jwk) throw new Fail(`kid ${kid} is not in jwt_jwks()`);
            if (jwk.alg !== alg || jwk.use !== 'sig') throw new Fail(`jwt_jwks() key has alg ${jwk.alg}, use ${jwk.use}`);
            const thumb = await jose.calculateJwkThumbprint(jwk);
            if (thumb !== kid) throw new Fail(`default kid ${show(kid)} is not jose's RFC 7638 thumbprint ${show(thumb)}`);
            checkClaims(claims, await joseVerify(jose, token, jose.createLocalJWKSet(jwks), alg), true);
            tokens[alg] = { kid, token };
        });
    }

    // Ed448 in the keyring's JWKS: jwt_generate_key makes Ed25519 keys, so add one made by jose 5
    await test('EdDSA jwt_add_key(Ed448 PKCS#8) + jwt_sign(claims) -> jose 5 createLocalJWKSet(jwt_jwks())', async () => {
        const k = await genKeys({ alg: 'EdDSA', lib: jose5, opts: { crv: 'Ed448' } });
        const kid = await q('SELECT jwt_add_key($1)', [k.pkcs8]);
        const claims = makeClaims('Ed448-keyring');
        const token = await sqlSign(claims, undefined, null);
        checkSqlToken(token, 'EdDSA', 114, kid);
        const jwks = await sqlJwks();
        const jwk = jwks.keys.find((x) => x.kid === kid);
        if (!jwk || jwk.crv !== 'Ed448') throw new Fail(`jwt_jwks() has ${show(jwk)} for kid ${kid}`);
        checkClaims(claims, await joseVerify(jose5, token, jose5.createLocalJWKSet(jwks), 'EdDSA'), true);
    });

    // retirement: with a grace period the key stays published, without it it goes
    const rs = tokens.RS256;
    const es = tokens.ES256;
    if (rs) {
        await test('RS256 retired with grace: still in jwt_jwks(), jose and jwt_verify(token) accept its token', async () => {
            await q("SELECT jwt_retire_key($1, grace => '1 hour')", [rs.kid]);
            const jwks = await sqlJwks();
            await joseVerify(jose, rs.token, jose.createLocalJWKSet(jwks), 'RS256');
            await sqlVerify(rs.token, undefined);
        });
    }
    if (es) {
        await test('ES256 retired without grace: gone from jwt_jwks(), jose refuses and jwt_verify(token) gives 28J0D', async () => {
            await q('SELECT jwt_retire_key($1)', [es.kid]);
            const jwks = await sqlJwks();
            if (jwks.keys.some((x) => x.kid === es.kid)) throw new Fail('jwt_jwks() still lists the retired key');
            let refused = false;
            try {
                await jose.jwtVerify(es.token, jose.createLocalJWKSet(jwks), { algorithms: ['ES256'] });
            } catch (e) {
                if (e.code !== 'ERR_JWKS_NO_MATCHING_KEY') throw new Fail(`jose: ${e.code}: ${e.message}`);
                refused = true;
            }
            if (!refused) throw new Fail('jose accepted the token of a retired key');
            await expectSqlstate('28J0D', () => sqlVerify(es.token, undefined));
        });
    }
}

// ---------------------------------------------------------------- main

function pkgVersion(dir) {
    try {
        return JSON.parse(readFileSync(new URL(`./node_modules/${dir}/package.json`, import.meta.url))).version;
    } catch {
        return '?';
    }
}

async function main() {
    try {
        client = new pg.Client(); // PGHOST/PGPORT/PGUSER/PGDATABASE
        await client.connect();
        await client.query('CREATE EXTENSION IF NOT EXISTS jwt');
        await client.query("SET client_encoding = 'UTF8'");
    } catch (e) {
        report('connect and CREATE EXTENSION jwt', false, `${e.code ? `SQLSTATE ${e.code}: ` : ''}${e.message}`);
        console.log(`${passed} passed, ${failed} failed`);
        return 1;
    }
    const server = await q("SELECT current_setting('server_version')");
    console.log(`# jose ${pkgVersion('jose')}, jose5 ${pkgVersion('jose5')} (Ed448), pg ${pkgVersion('pg')}, ` +
        `node ${process.versions.node}, server ${server}`);
    try {
        await testHmac();
        await testAsymmetric();
        await testRefusals();
        await testKeyringImport();
        await testKeyringPrivate();
        await testKeyringSigning();
    } catch (e) {
        report('the suite ran to its end', false, `${e?.name}: ${e?.message}`);
    } finally {
        await client.end().catch(() => {});
    }
    console.log(`${passed} passed, ${failed} failed`);
    return failed ? 1 : 0;
}

process.exitCode = await main();
