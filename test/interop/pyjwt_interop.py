#!/usr/bin/python3
"""Interoperability test: the jwt PostgreSQL extension <-> Debian's PyJWT.

Run with Debian's interpreter (it has python3-jwt 2.6, python3-cryptography,
python3-psycopg2):

    . test/cluster.sh; cluster_start
    /usr/bin/python3 test/interop/pyjwt_interop.py

Connection parameters come from the usual PG* environment variables.

For every algorithm (HS256..HS512, RS256..RS512, PS256..PS512, ES256..ES512,
EdDSA with Ed25519 and with Ed448) a fresh key is generated here and:

  A  PyJWT signs the claims          -> SELECT jwt_verify(token, key)
     must return exactly the claims;
  B  SELECT jwt_sign(claims, key, alg) -> PyJWT jwt.decode() must accept the
     token and return the claims (plus at most iat/exp/jti added by jwt_sign);
  N  a PyJWT token signed with a *different* key must be refused with
     SQLSTATE 28J03.

Key encodings covered: PKCS#8 private PEM, traditional PKCS#1 RSA and SEC1 EC
private PEM, SPKI public PEM, PKCS#1 RSA public PEM, JWK (RSA, EC, OKP, oct; in
both directions), a JWKS with kid selection, HMAC secrets as text and bytea.

Ed448: PyJWT 2.6.0 (OKPAlgorithm) does sign and verify Ed448 (checked: it
accepts Ed448PrivateKey/Ed448PublicKey and PEM of either), so Ed448 goes
through PyJWT like everything else.  In addition, the Ed448 and Ed25519
signatures are cross-checked with the cryptography library directly (JWS
signing input signed/verified by hand), so the EdDSA result does not depend on
PyJWT alone.

`pyjwt_interop.py --self-test` runs the same cases against a fake backend
made of PyJWT itself (no database): it checks this script, not the extension.

Output: one "ok - ..." / "not ok - ...: reason" line per case, then
"N passed, M failed".  Exit status 1 if anything failed.
"""

import base64
import json
import os
import sys
import time
import traceback

import jwt
import jwt.algorithms as jalg
import psycopg2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

VERBOSE = os.environ.get("INTEROP_VERBOSE") not in (None, "", "0")

passed = 0
failed = 0


class Fail(Exception):
    pass


class FakePgError(Exception):
    """Raised by the --self-test fake backend in place of psycopg2.Error."""

    def __init__(self, pgcode, msg):
        super().__init__(msg)
        self.pgcode = pgcode
        self.pgerror = msg


DB_ERRORS = (psycopg2.Error, FakePgError)


def report(name, ok, reason=""):
    global passed, failed
    if ok:
        passed += 1
        print("ok - %s" % name, flush=True)
    else:
        failed += 1
        reason = " ".join(str(reason).split())  # keep it on one line
        print("not ok - %s : %s" % (name, reason), flush=True)


def case(name, fn):
    try:
        fn()
    except Fail as e:
        report(name, False, e)
    except DB_ERRORS as e:
        report(name, False, "SQLSTATE %s: %s" % (e.pgcode, (e.pgerror or str(e)).strip()))
    except Exception as e:  # noqa: BLE001 - any exception is a failed case
        if VERBOSE:
            traceback.print_exc()
        report(name, False, "%s: %s" % (type(e).__name__, e))
    else:
        report(name, True)


# ---------------------------------------------------------------- helpers

def b64url_decode(s):
    if isinstance(s, str):
        s = s.encode("ascii")
    return base64.urlsafe_b64decode(s + b"=" * (-len(s) % 4))


def b64url_encode(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode("ascii")


B64URL_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def check_compact(token):
    """Structural sanity check of a compact JWS produced by the extension."""
    if not isinstance(token, str):
        raise Fail("token is %r, not text" % type(token).__name__)
    parts = token.split(".")
    if len(parts) != 3:
        raise Fail("token has %d segments: %r" % (len(parts), token[:80]))
    for p in parts:
        bad = set(p) - B64URL_CHARS
        if bad:
            raise Fail("segment contains non-base64url characters %r" % sorted(bad))
    return parts


def pem_priv(key, fmt):
    f = {"pkcs8": ser.PrivateFormat.PKCS8,
         "traditional": ser.PrivateFormat.TraditionalOpenSSL}[fmt]
    return key.private_bytes(ser.Encoding.PEM, f, ser.NoEncryption()).decode("ascii")


def pem_pub(key, fmt):
    f = {"spki": ser.PublicFormat.SubjectPublicKeyInfo,
         "pkcs1": ser.PublicFormat.PKCS1}[fmt]
    return key.public_key().public_bytes(ser.Encoding.PEM, f).decode("ascii")


PEM_HEADER = {
    ("priv", "pkcs8", "*"): "-----BEGIN PRIVATE KEY-----",
    ("priv", "traditional", "RSA"): "-----BEGIN RSA PRIVATE KEY-----",
    ("priv", "traditional", "EC"): "-----BEGIN EC PRIVATE KEY-----",
    ("pub", "spki", "*"): "-----BEGIN PUBLIC KEY-----",
    ("pub", "pkcs1", "RSA"): "-----BEGIN RSA PUBLIC KEY-----",
}


def assert_pem(pem, kind, fmt, kty):
    hdr = PEM_HEADER.get((kind, fmt, kty)) or PEM_HEADER[(kind, fmt, "*")]
    assert pem.startswith(hdr), (pem[:40], hdr)


def make_claims(tag):
    now = int(time.time())
    return {
        "sub": "user-42-" + tag,
        "iat": now,
        "exp": now + 300,
        "iss": "pyjwt-interop",
        "nested": {"a": 1, "b": [True, None, -7], "c": {"d": "e", "empty": {}}},
        "greeting": "héllo ✓",
        "astral": "smile \U0001F600, \"quotes\" \\ / \t tab \u2028 sep",
        "list": [1, 2.5, "x", False, [], {"k": "v"}],
        "big": 9007199254740991,
        "neg": -12345,
    }


def ec_to_jwk(key):
    """PyJWT's ECAlgorithm.to_jwk, with x/y/d left-padded to the field size.

    PyJWT 2.6.0's to_jwk encodes EC coordinates and d as *minimal* big-endian
    integers, which violates RFC 7518 section 6.2.1.2/6.2.2.1 ("MUST be the
    full size of a coordinate") whenever the leading byte is 0 -- about half
    of all P-521 keys and 1/128 of P-256 keys; PyJWT's own from_jwk then
    refuses those JWKs ("Coords should be 66 bytes").  Fixed upstream in
    PyJWT 2.7; here we just re-pad its output.
    """
    d = json.loads(jalg.ECAlgorithm.to_jwk(key))
    size = (key.curve.key_size + 7) // 8
    for m in ("x", "y", "d"):
        if m in d:
            d[m] = b64url_encode(b64url_decode(d[m]).rjust(size, b"\0"))
    return json.dumps(d)


class RawUTF8Encoder(json.JSONEncoder):
    """Make PyJWT emit raw UTF-8 in the payload instead of \\u escapes."""

    def __init__(self, *args, **kwargs):
        kwargs["ensure_ascii"] = False
        super().__init__(*args, **kwargs)


# ---------------------------------------------------------------- SQL access

conn = None


def q(sql, params):
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchone()[0]


def key_param(key):
    """(SQL placeholder, parameter) for a key given as str (text) or bytes (bytea)."""
    if isinstance(key, (bytes, bytearray)):
        return "%s::bytea", psycopg2.Binary(bytes(key))
    return "%s::text", key


def sql_verify(token, key, algorithms=None):
    ph, kp = key_param(key)
    if algorithms is None:
        return q("SELECT jwt_verify(%%s::text, %s)" % ph, (token, kp))
    return q("SELECT jwt_verify(%%s::text, %s, algorithms => %%s::text[])" % ph,
             (token, kp, list(algorithms)))


def sql_sign(claims, key, alg):
    ph, kp = key_param(key)
    if alg is None:
        return q("SELECT jwt_sign(%%s::jsonb, %s)" % ph,
                 (json.dumps(claims, ensure_ascii=False), kp))
    return q("SELECT jwt_sign(%%s::jsonb, %s, %%s::text)" % ph,
             (json.dumps(claims, ensure_ascii=False), kp, alg))


def expect_sqlstate(code, fn):
    """fn() must raise SQLSTATE code (or one of a tuple of codes)."""
    codes = code if isinstance(code, tuple) else (code,)
    code = "/".join(codes)
    try:
        res = fn()
    except DB_ERRORS as e:
        if e.pgcode not in codes:
            raise Fail("expected SQLSTATE %s, got %s: %s"
                       % (code, e.pgcode, (e.pgerror or str(e)).strip()))
        return
    raise Fail("expected SQLSTATE %s, but the call succeeded and returned %r"
               % (code, res if not isinstance(res, (str, bytes)) else res[:80]))


# ---------------------------------------------------------------- the checks

ADDABLE = {"iat", "exp", "jti"}  # members jwt_sign may add on its own


def direction_a(alg, sign_key, verify_key, label, algorithms=None, headers=None,
                json_encoder=None):
    """PyJWT signs -> jwt_verify."""
    def run():
        claims = make_claims(alg)
        token = jwt.encode(claims, sign_key, algorithm=alg, headers=headers,
                           json_encoder=json_encoder)
        got = sql_verify(token, verify_key, algorithms)
        if not isinstance(got, dict):
            raise Fail("jwt_verify returned %r, expected a jsonb object" % (got,))
        if got != claims:
            raise Fail("claims differ: sent %s, got %s"
                       % (json.dumps(claims, sort_keys=True, ensure_ascii=False),
                          json.dumps(got, sort_keys=True, ensure_ascii=False)))
    case("%s pyjwt->jwt_verify (%s)" % (alg, label), run)


def direction_b(alg, sign_key, verify_key, label, sql_alg="same", expect_sig_len=None,
                extra=None):
    """jwt_sign -> PyJWT jwt.decode.  sql_alg=None tests the default alg."""
    def run():
        claims = make_claims(alg)
        token = sql_sign(claims, sign_key, alg if sql_alg == "same" else sql_alg)
        parts = check_compact(token)
        header = json.loads(b64url_decode(parts[0]))
        if header.get("alg") != alg:
            raise Fail("header alg is %r, expected %r" % (header.get("alg"), alg))
        if header.get("typ") != "JWT":
            raise Fail("header typ is %r, expected 'JWT'" % (header.get("typ"),))
        sig = b64url_decode(parts[2])
        if expect_sig_len is not None and len(sig) != expect_sig_len:
            raise Fail("signature is %d bytes, expected %d" % (len(sig), expect_sig_len))
        try:
            got = jwt.decode(token, verify_key, algorithms=[alg])
        except jwt.PyJWTError as e:
            raise Fail("PyJWT refused the token: %s: %s (token %s)"
                       % (type(e).__name__, e, token))
        sub = {k: got.get(k, "<missing>") for k in claims}
        if sub != claims:
            raise Fail("claims differ: sent %s, got %s"
                       % (json.dumps(claims, sort_keys=True, ensure_ascii=False),
                          json.dumps(got, sort_keys=True, ensure_ascii=False)))
        unexpected = set(got) - set(claims) - ADDABLE
        if unexpected:
            raise Fail("jwt_sign added unexpected members %s" % sorted(unexpected))
        if extra:
            extra(token)
    what = ("default alg, " + label) if sql_alg is None else label
    case("%s jwt_sign->pyjwt (%s)" % (alg, what), run)


def negative(alg, other_sign_key, verify_key, label):
    """A token signed (by PyJWT) with a different key must fail with 28J03."""
    def run():
        token = jwt.encode(make_claims(alg), other_sign_key, algorithm=alg)
        expect_sqlstate("28J03", lambda: sql_verify(token, verify_key))
    case("%s wrong key refused with 28J03 (%s)" % (alg, label), run)


def tampered(alg, sign_key, verify_key, label):
    """Flip a bit in the payload of a PyJWT token: must fail with 28J03."""
    def run():
        claims = make_claims(alg)
        token = jwt.encode(claims, sign_key, algorithm=alg)
        h, p, s = token.split(".")
        claims["sub"] = "admin"
        p2 = b64url_encode(json.dumps(claims, separators=(",", ":")).encode())
        expect_sqlstate("28J03", lambda: sql_verify("%s.%s.%s" % (h, p2, s), verify_key))
    case("%s tampered payload refused with 28J03 (%s)" % (alg, label), run)


# ---------------------------------------------------------------- per family

def test_hmac():
    specs = [("HS256", 32), ("HS384", 48), ("HS512", 64)]
    for alg, n in specs:
        secret = os.urandom(n)
        other = os.urandom(n)
        # bytea secret, raw random bytes
        direction_a(alg, secret, secret, "bytea secret")
        direction_b(alg, secret, secret, "bytea secret")
        negative(alg, other, secret, "bytea secret")
        tampered(alg, secret, secret, "bytea secret")
        # text secret: printable ASCII, 43+ characters
        tsecret = b64url_encode(os.urandom(n))  # 43 / 64 / 86 chars
        assert len(tsecret) >= 43
        direction_a(alg, tsecret, tsecret, "text secret")
        direction_b(alg, tsecret, tsecret, "text secret")
        negative(alg, b64url_encode(other), tsecret, "text secret")
        # oct JWK, both directions
        jwk = jalg.HMACAlgorithm.to_jwk(secret)
        direction_a(alg, secret, jwk, "oct JWK")
        direction_b(alg, jwk, secret, "oct JWK")
        negative(alg, other, jwk, "oct JWK")
        if alg == "HS256":
            # default algorithm for a secret is HS256
            direction_b(alg, secret, secret, "bytea secret", sql_alg=None)
            direction_b(alg, tsecret, tsecret, "text secret", sql_alg=None)
            # raw UTF-8 (not \u-escaped) JSON from PyJWT
            direction_a(alg, secret, secret, "bytea secret, raw UTF-8 payload",
                        json_encoder=RawUTF8Encoder)


def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_rsa():
    algs = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"]
    for alg in algs:
        key = rsa_key()
        other = rsa_key()
        pub = key.public_key()
        priv8, privt = pem_priv(key, "pkcs8"), pem_priv(key, "traditional")
        spki, pkcs1 = pem_pub(key, "spki"), pem_pub(key, "pkcs1")
        assert_pem(priv8, "priv", "pkcs8", "RSA")
        assert_pem(privt, "priv", "traditional", "RSA")
        assert_pem(spki, "pub", "spki", "RSA")
        assert_pem(pkcs1, "pub", "pkcs1", "RSA")
        # A: every public encoding
        direction_a(alg, key, spki, "SPKI public PEM")
        direction_a(alg, key, pkcs1, "PKCS#1 RSA public PEM")
        # B: every private encoding
        direction_b(alg, priv8, pub, "PKCS#8 private PEM", expect_sig_len=256)
        direction_b(alg, privt, pub, "PKCS#1 RSA private PEM", expect_sig_len=256)
        negative(alg, other, spki, "SPKI public PEM")
        negative(alg, other, pkcs1, "PKCS#1 RSA public PEM")
        tampered(alg, key, spki, "SPKI public PEM")
        if alg in ("RS256", "PS256"):
            jwk_priv = jalg.RSAAlgorithm.to_jwk(key)
            jwk_pub = jalg.RSAAlgorithm.to_jwk(pub)
            direction_a(alg, key, jwk_pub, "RSA public JWK")
            # PyJWT writes "key_ops": ["sign"] into a private JWK: it does not verify (RFC 7517 4.3)
            def private_jwk_refused(alg=alg, key=key, jwk_priv=jwk_priv):
                assert json.loads(jwk_priv).get("key_ops") == ["sign"], jwk_priv
                token = jwt.encode(make_claims(alg), key, algorithm=alg)
                expect_sqlstate("28J07", lambda: sql_verify(token, jwk_priv))
            case("%s RSA private JWK (key_ops sign) as verify key refused with 28J07" % alg,
                 private_jwk_refused)
            direction_a(alg, key, json.dumps(dict(json.loads(jwk_priv), key_ops=["sign", "verify"])),
                        "RSA private JWK with key_ops sign, verify as verify key")
            direction_b(alg, jwk_priv, pub, "RSA private JWK", expect_sig_len=256)
            negative(alg, other, jwk_pub, "RSA public JWK")
        if alg == "RS256":
            direction_b(alg, priv8, pub, "PKCS#8 private PEM", sql_alg=None)
            # JWKS: token kid picks the right key out of several
            jwks_keys = []
            for kid, k in (("k-other", other), ("k-right", key),
                           ("k-ec", ec.generate_private_key(ec.SECP256R1()))):
                d = json.loads(jalg.RSAAlgorithm.to_jwk(k.public_key())
                               if kid != "k-ec" else ec_to_jwk(k.public_key()))
                d["kid"] = kid
                jwks_keys.append(d)
            jwks = json.dumps({"keys": jwks_keys})
            direction_a(alg, key, jwks, "JWKS, kid selects key",
                        headers={"kid": "k-right"})
            direction_a(alg, key, jwks, "JWKS, kid selects key, algorithms => {RS256}",
                        headers={"kid": "k-right"}, algorithms=["RS256"])
            case("RS256 JWKS with unknown kid refused with 28J0D",
                 lambda: expect_sqlstate("28J0D", lambda: sql_verify(
                     jwt.encode(make_claims("x"), key, algorithm=alg,
                                headers={"kid": "nope"}), jwks)))
            case("RS256 JWKS, kid of another key refused with 28J03",
                 lambda: expect_sqlstate("28J03", lambda: sql_verify(
                     jwt.encode(make_claims("x"), key, algorithm=alg,
                                headers={"kid": "k-other"}), jwks)))


def test_ec():
    specs = [("ES256", ec.SECP256R1(), 64), ("ES384", ec.SECP384R1(), 96),
             ("ES512", ec.SECP521R1(), 132)]
    for alg, curve, siglen in specs:
        key = ec.generate_private_key(curve)
        other = ec.generate_private_key(curve)
        pub = key.public_key()
        priv8, privt = pem_priv(key, "pkcs8"), pem_priv(key, "traditional")
        spki = pem_pub(key, "spki")
        assert_pem(priv8, "priv", "pkcs8", "EC")
        assert_pem(privt, "priv", "traditional", "EC")
        assert_pem(spki, "pub", "spki", "EC")
        direction_a(alg, key, spki, "SPKI public PEM")
        if alg == "ES256":
            direction_a(alg, key, spki, "SPKI public PEM, token has a kid header",
                        headers={"kid": "some-kid"})
        direction_b(alg, priv8, pub, "PKCS#8 private PEM", expect_sig_len=siglen)
        direction_b(alg, privt, pub, "SEC1 EC private PEM", expect_sig_len=siglen)
        direction_b(alg, privt, pub, "SEC1 EC private PEM", sql_alg=None)
        negative(alg, other, spki, "SPKI public PEM")
        tampered(alg, key, spki, "SPKI public PEM")
        # EC JWK both directions, every curve
        jwk_priv = ec_to_jwk(key)
        jwk_pub = ec_to_jwk(pub)
        direction_a(alg, key, jwk_pub, "EC public JWK")
        direction_b(alg, jwk_priv, pub, "EC private JWK", expect_sig_len=siglen)
        negative(alg, other, jwk_pub, "EC public JWK")


def eddsa_raw_checks(label, key, spki):
    """Cross-check EdDSA with the cryptography library directly (no PyJWT)."""
    pub = key.public_key()

    def sql_sig_verifies_raw():
        token = sql_sign(make_claims(label), pem_priv(key, "pkcs8"), "EdDSA")
        h, p, s = check_compact(token)
        try:
            pub.verify(b64url_decode(s), ("%s.%s" % (h, p)).encode("ascii"))
        except InvalidSignature:
            raise Fail("cryptography rejects the %s signature made by jwt_sign" % label)
    case("EdDSA jwt_sign->cryptography raw verify (%s)" % label, sql_sig_verifies_raw)

    def raw_sig_verifies_sql():
        claims = make_claims(label)
        h = b64url_encode(json.dumps({"alg": "EdDSA", "typ": "JWT"}).encode())
        p = b64url_encode(json.dumps(claims, ensure_ascii=False).encode("utf-8"))
        s = b64url_encode(key.sign(("%s.%s" % (h, p)).encode("ascii")))
        got = sql_verify("%s.%s.%s" % (h, p, s), spki)
        if got != claims:
            raise Fail("claims differ: sent %r got %r" % (claims, got))
    case("EdDSA cryptography raw sign->jwt_verify (%s)" % label, raw_sig_verifies_sql)


def test_eddsa():
    alg = "EdDSA"
    for label, cls, siglen in (("Ed25519", ed25519.Ed25519PrivateKey, 64),
                               ("Ed448", ed448.Ed448PrivateKey, 114)):
        key = cls.generate()
        other = cls.generate()
        pub = key.public_key()
        priv8 = pem_priv(key, "pkcs8")
        spki = pem_pub(key, "spki")
        assert_pem(priv8, "priv", "pkcs8", "OKP")
        assert_pem(spki, "pub", "spki", "OKP")
        direction_a(alg, key, spki, "%s, SPKI public PEM" % label)
        direction_b(alg, priv8, pub, "%s, PKCS#8 private PEM" % label,
                    expect_sig_len=siglen)
        direction_b(alg, priv8, pub, "%s" % label, sql_alg=None)
        negative(alg, other, spki, "%s, SPKI public PEM" % label)
        tampered(alg, key, spki, "%s, SPKI public PEM" % label)
        # OKP JWK both directions, both curves
        jwk_priv = jalg.OKPAlgorithm.to_jwk(key)
        jwk_pub = jalg.OKPAlgorithm.to_jwk(pub)
        direction_a(alg, key, jwk_pub, "%s, OKP public JWK" % label)
        direction_b(alg, jwk_priv, pub, "%s, OKP private JWK" % label,
                    expect_sig_len=siglen)
        negative(alg, other, jwk_pub, "%s, OKP public JWK" % label)
        eddsa_raw_checks(label, key, spki)


# ---------------------------------------------------------------- self test
# `pyjwt_interop.py --self-test` runs every case against a fake backend built
# from PyJWT itself instead of the database.  It validates this script (keys,
# encodings, expectations) independently of the extension: with the fake
# backend everything must pass.

def _fake_key(key, alg, private):
    if isinstance(key, (bytes, bytearray)):
        return bytes(key)
    if key.lstrip().startswith("{"):
        d = json.loads(key)
        kty = d["kty"]
        cls = {"RSA": jalg.RSAAlgorithm, "EC": jalg.ECAlgorithm,
               "OKP": jalg.OKPAlgorithm, "oct": jalg.HMACAlgorithm}[kty]
        k = cls.from_jwk(d)
        if not private and hasattr(k, "public_key"):
            k = k.public_key()
        return k
    if key.startswith("-----BEGIN"):
        if "PRIVATE" in key.split("\n", 1)[0]:
            k = ser.load_pem_private_key(key.encode(), None)
            return k if private else k.public_key()
        return ser.load_pem_public_key(key.encode())
    return key.encode()


def _fake_verify(token, key, algorithms=None):
    header = jwt.get_unverified_header(token)
    alg = header["alg"]
    if isinstance(key, str) and key.lstrip().startswith("{") and "keys" in json.loads(key):
        cands = [k for k in json.loads(key)["keys"] if k.get("kid") == header.get("kid")]
        if not cands:
            raise FakePgError("28J0D", "no key matches kid")
        key = json.dumps(cands[0])
    if isinstance(key, str) and key.lstrip().startswith("{") and \
            "verify" not in json.loads(key).get("key_ops", ["verify"]):
        raise FakePgError("28J07", "key_ops does not allow verify")
    k = _fake_key(key, alg, False)
    if alg == "none" or (alg.startswith("HS") != isinstance(k, bytes)):
        raise FakePgError("28J07", "algorithm not allowed for key")
    try:
        return jwt.decode(token, k, algorithms=algorithms or [alg])
    except jwt.InvalidSignatureError as e:
        raise FakePgError("28J03", str(e))


def _fake_sign(claims, key, alg):
    k = _fake_key(key, alg, True)
    if alg is None:
        alg = {rsa.RSAPrivateKey: "RS256", ed25519.Ed25519PrivateKey: "EdDSA",
               ed448.Ed448PrivateKey: "EdDSA"}.get(
            next((c for c in (rsa.RSAPrivateKey, ed25519.Ed25519PrivateKey,
                              ed448.Ed448PrivateKey) if isinstance(k, c)), None))
        if alg is None and isinstance(k, ec.EllipticCurvePrivateKey):
            alg = {256: "ES256", 384: "ES384", 521: "ES512"}[k.curve.key_size]
        if alg is None:
            alg = "HS256"
    return jwt.encode(claims, k, algorithm=alg)


def test_confusion():
    """Tokens other libraries (or attackers) produce that must be refused."""
    import hashlib
    import hmac

    rkey = rsa_key()
    spki = pem_pub(rkey, "spki")
    jwk_pub = jalg.RSAAlgorithm.to_jwk(rkey.public_key())
    claims = make_claims("confusion")
    p = b64url_encode(json.dumps(claims).encode())

    # RS256 public key text used as an HMAC secret (classic alg confusion).
    # PyJWT itself refuses to HMAC with a PEM, so the MAC is made by hand.
    for label, keytext in (("SPKI public PEM", spki), ("RSA public JWK", jwk_pub)):
        def run(keytext=keytext):
            h = b64url_encode(b'{"alg":"HS256","typ":"JWT"}')
            mac = hmac.new(keytext.encode(), ("%s.%s" % (h, p)).encode(), hashlib.sha256)
            token = "%s.%s.%s" % (h, p, b64url_encode(mac.digest()))
            expect_sqlstate("28J07", lambda: sql_verify(token, keytext))
        case("HS256 token MACed with the RSA key text refused with 28J07 (%s)" % label, run)

    # alg "none" (PyJWT: algorithm=None): refused, whatever the key.
    def run_none():
        token = jwt.encode(claims, None, algorithm=None)
        for key in (spki, os.urandom(32)):
            expect_sqlstate(("22J01", "22J04", "28J07"), lambda: sql_verify(token, key))
    case("alg none token from PyJWT refused", run_none)

    # ECDSA signature in DER (what a naive OpenSSL-based signer emits)
    # instead of JWS's fixed-size r||s: must not verify.
    def run_der():
        from cryptography.hazmat.primitives import hashes
        k = ec.generate_private_key(ec.SECP256R1())
        h = b64url_encode(b'{"alg":"ES256","typ":"JWT"}')
        der = k.sign(("%s.%s" % (h, p)).encode(), ec.ECDSA(hashes.SHA256()))
        token = "%s.%s.%s" % (h, p, b64url_encode(der))
        expect_sqlstate("28J03", lambda: sql_verify(token, pem_pub(k, "spki")))
    case("ES256 token with a DER signature refused with 28J03", run_der)


def main():
    global conn, sql_verify, sql_sign
    if sys.argv[1:] == ["--self-test"]:
        sql_verify, sql_sign = _fake_verify, _fake_sign
        print("# self-test: fake PyJWT backend, no database", flush=True)
        test_hmac()
        test_rsa()
        test_ec()
        test_eddsa()
        test_confusion()
        print("%d passed, %d failed" % (passed, failed))
        return 1 if failed else 0
    try:
        conn = psycopg2.connect("")  # PGHOST/PGPORT/PGUSER/PGDATABASE
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("CREATE EXTENSION IF NOT EXISTS jwt")
            # make the run independent of session defaults we don't test here
            cur.execute("SET client_encoding = 'UTF8'")
    except psycopg2.Error as e:
        report("connect and CREATE EXTENSION jwt", False,
               ("SQLSTATE %s: " % e.pgcode if e.pgcode else "")
               + (e.pgerror or str(e)).strip())
        print("%d passed, %d failed" % (passed, failed))
        return 1

    print("# PyJWT %s, psycopg2 %s, server %s"
          % (jwt.__version__, psycopg2.__version__, conn.server_version), flush=True)
    test_hmac()
    test_rsa()
    test_ec()
    test_eddsa()
    test_confusion()

    conn.close()
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
