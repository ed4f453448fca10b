#!/usr/bin/env python3
"""Write the seed corpora fuzz/corpus/{token,json,b64url,key}/.

Run from the repository root: python3 fuzz/tools/make_seeds.py
Needs python3-cryptography.  Tokens are signed here, independently of the
extension, with the keys the fuzz targets verify with (sql/jwt_setup.sql's
test keys and fuzz_token.c's HMAC secret), so that the seeds reach the
successful paths; attack cases and the RFC examples reach the others.
ECDSA, PSS signatures are randomised: rerunning changes those files.
"""
import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import subprocess

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

OUT = "fuzz/corpus"
HMAC_SECRET = b"fuzz-hmac-secret-0123456789abcdef-0123456789abcdef-0123456789abcd"
NOW = 1900000000  # fuzz_token.c strict rules: now

sql = open("sql/jwt_setup.sql").read()
KEYS = dict((m.group(1), m.group(2)) for m in
            re.finditer(r"\('([a-z0-9_]+)', \$k\$(.*?)\$k\$\)", sql, re.S))
VECTORS = json.load(open("/work/shared/vectors/rfc-jose-examples.json")) \
    if os.path.exists("/work/shared/vectors/rfc-jose-examples.json") else []


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def jd(o):
    return json.dumps(o, separators=(",", ":")).encode()


def priv(name):
    return serialization.load_pem_private_key(KEYS[name].encode(), None)


HASH = {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}
HLIB = {"256": hashlib.sha256, "384": hashlib.sha384, "512": hashlib.sha512}
SIGNERS = {"ES256": "ec_p256", "ES384": "ec_p384", "ES512": "ec_p521"}
COORD = {"ES256": 32, "ES384": 48, "ES512": 66}


def sign(alg, data, ed="ed25519"):
    bits = alg[2:]
    if alg.startswith("HS"):
        return hmac.new(HMAC_SECRET, data, HLIB[bits]).digest()
    if alg.startswith("RS"):
        return priv("rsa").sign(data, padding.PKCS1v15(), HASH[bits])
    if alg.startswith("PS"):
        return priv("rsa").sign(data, padding.PSS(padding.MGF1(HASH[bits]), HASH[bits].digest_size), HASH[bits])
    if alg.startswith("ES"):
        r, s = decode_dss_signature(priv(SIGNERS[alg]).sign(data, ec.ECDSA(HASH[bits])))
        n = COORD[alg]
        return r.to_bytes(n, "big") + s.to_bytes(n, "big")
    if alg == "EdDSA":
        return priv(ed).sign(data)
    raise ValueError(alg)


def token(header, claims, alg=None, ed="ed25519", raw_header=None, raw_payload=None):
    h = raw_header if raw_header is not None else jd(header)
    p = raw_payload if raw_payload is not None else jd(claims)
    si = (b64u(h) + "." + b64u(p)).encode()
    return si + b"." + b64u(sign(alg or header["alg"], si, ed)).encode()


def write(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


for t in ("token", "json", "b64url", "key"):
    shutil.rmtree(os.path.join(OUT, t), ignore_errors=True)

GOOD = {"iss": "fuzz-iss", "aud": "fuzz-aud", "sub": "alice", "jti": "j1",
        "iat": NOW - 60, "nbf": NOW - 60, "exp": NOW + 600}
ALGS = ["HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
        "ES256", "ES384", "ES512", "EdDSA"]
KIDS = {"RS256": "rsa", "PS256": "rsa", "ES256": "ec256", "ES512": "ec521", "EdDSA": "ed25519"}

# ---- tokens: every algorithm, valid for the strict rules ----
for alg in ALGS:
    write("token", "valid-" + alg, token({"alg": alg, "typ": "JWT"}, GOOD))
    if alg in KIDS:
        write("token", "valid-kid-" + alg, token({"alg": alg, "kid": KIDS[alg]}, GOOD))
write("token", "valid-EdDSA-ed448", token({"alg": "EdDSA", "kid": "ed448"}, GOOD, ed="ed448"))
write("token", "valid-aud-array", token({"alg": "HS256"}, dict(GOOD, aud=["x", "fuzz-aud"])))
write("token", "valid-loose", token({"alg": "HS256", "typ": "at+jwt"}, {"sub": "alice"}))
write("token", "valid-typ-app", token({"alg": "HS256", "typ": "application/JWT"}, GOOD))
write("token", "valid-cty", token({"alg": "HS256", "cty": "JWT", "x5t": "abc"}, GOOD))
write("token", "valid-unicode", token({"alg": "HS256", "kid": "k\u00e9\u2603\U0001F600"},
                                      dict(GOOD, name="\u00e9\u2603\U0001F600\\\"\n")))
write("token", "valid-float-dates", token({"alg": "HS256"}, dict(GOOD, exp=1.9e9 + 0.5, iat=1899999999.25)))
write("token", "valid-nested", token({"alg": "HS256"}, dict(GOOD, o={"a": [1, {"b": None}]}, l=[[], {}, True, False, None, 1e-5])))

# claim failures
for name, claims in {
    "expired": dict(GOOD, exp=NOW - 100),
    "nbf-future": dict(GOOD, nbf=NOW + 100),
    "iat-future": dict(GOOD, iat=NOW + 100),
    "too-old": dict(GOOD, iat=NOW - 7200),
    "lifetime": dict(GOOD, exp=NOW + 200000),
    "no-exp": {k: v for k, v in GOOD.items() if k != "exp"},
    "no-jti": {k: v for k, v in GOOD.items() if k != "jti"},
    "exp-string": dict(GOOD, exp="1900000600"),
    "exp-negative": dict(GOOD, exp=-1),
    "exp-year10000": dict(GOOD, exp=253402300800),
    "exp-bool": dict(GOOD, exp=True),
    "aud-wrong": dict(GOOD, aud="other"),
    "aud-array-bad": dict(GOOD, aud=["fuzz-aud", 1]),
    "aud-object": dict(GOOD, aud={"a": 1}),
    "iss-wrong": dict(GOOD, iss="evil"),
    "iss-number": dict(GOOD, iss=5),
    "sub-array": dict(GOOD, sub=["alice"]),
}.items():
    write("token", "claims-" + name, token({"alg": "HS256"}, claims))
write("token", "claims-exp-huge", token({"alg": "HS256"}, None,
                                        raw_payload=b'{"exp":1e400,"iat":-0,"nbf":0.0000001e-400}'))
write("token", "claims-dup", token({"alg": "HS256"}, None, raw_payload=b'{"exp":1,"exp":2}'))
write("token", "claims-dup-escaped", token({"alg": "HS256"}, None,
                                           raw_payload=b'{"sub":"a","\\u0073ub":"b"}'))
write("token", "claims-not-object", token({"alg": "HS256"}, None, raw_payload=b'[1,2]'))
write("token", "claims-not-json", token({"alg": "HS256"}, None, raw_payload=b"hello, world"))
write("token", "claims-deep", token({"alg": "HS256"}, None, raw_payload=b'{"a":' + b"[" * 40 + b"]" * 40 + b"}"))
write("token", "claims-bad-utf8", token({"alg": "HS256"}, None, raw_payload=b'{"a":"\xc3\x28"}'))
write("token", "claims-nul", token({"alg": "HS256"}, None, raw_payload=b'{"a":"x\\u0000y"}'))
write("token", "claims-surrogate", token({"alg": "HS256"}, None, raw_payload=b'{"a":"\\ud800"}'))

# header attacks
hs = lambda h, **kw: token(None, GOOD, alg="HS256", raw_header=h, **kw)
for name, h in {
    "alg-none": b'{"alg":"none"}',
    "alg-None": b'{"alg":"None"}',
    "alg-lower": b'{"alg":"hs256"}',
    "alg-missing": b'{"typ":"JWT"}',
    "alg-number": b'{"alg":256}',
    "alg-array": b'{"alg":["HS256"]}',
    "alg-nul": b'{"alg":"HS256\\u0000"}',
    "alg-unknown-long": b'{"alg":"' + b"\xe2\x98\x83" * 30 + b'"}',
    "alg-dup": b'{"alg":"HS256","alg":"none"}',
    "alg-dup-escaped": b'{"alg":"HS256","\\u0061lg":"none"}',
    "crit": b'{"alg":"HS256","crit":["exp"],"exp":1}',
    "crit-empty": b'{"alg":"HS256","crit":[]}',
    "crit-string": b'{"alg":"HS256","crit":"exp"}',
    "crit-nonstring": b'{"alg":"HS256","crit":[1]}',
    "crit-unprintable": b'{"alg":"HS256","crit":["\\u001b[31m\\n\xe2\x98\x83"]}',
    "b64-false": b'{"alg":"HS256","b64":false,"crit":["b64"]}',
    "b64": b'{"alg":"HS256","b64":false}',
    "zip": b'{"alg":"HS256","zip":"DEF"}',
    "enc": b'{"alg":"HS256","enc":"A128GCM"}',
    "jwk": b'{"alg":"HS256","jwk":{"kty":"oct","k":"AAAA"},"jku":"http://x","x5u":"http://x","x5c":["AA"]}',
    "kid-number": b'{"alg":"HS256","kid":1}',
    "kid-unknown": b'{"alg":"HS256","kid":"nope"}',
    "typ-number": b'{"alg":"HS256","typ":1}',
    "header-array": b'[{"alg":"HS256"}]',
    "header-string": b'"HS256"',
    "header-deep32": b'{"alg":"HS256","x":' + b"[" * 31 + b"]" * 31 + b"}",
    "header-deep33": b'{"alg":"HS256","x":' + b"[" * 32 + b"]" * 32 + b"}",
    "header-deep-string": b'{"alg":"HS256","x":"' + b"[" * 40 + b'"}',
    "header-bom": b'\xef\xbb\xbf{"alg":"HS256"}',
    "header-ws": b' \t\r\n{"alg" : "HS256" }\n',
    "header-trailing": b'{"alg":"HS256"}x',
    "header-two": b'{"alg":"HS256"}{}',
    "header-latin1": b'{"alg":"HS256","n":"\xe9"}',
    "header-many": b'{"alg":"HS256",' + b",".join(b'"k%d":%d' % (i, i) for i in range(200)) + b"}",
    "header-dup-deep": b'{"alg":"HS256","x":{"y":[{"a":1,"b":2,"a":3}]}}',
}.items():
    write("token", "header-" + name, hs(h))

# signature attacks
hsi = b64u(jd({"alg": "ES256"})) + "." + b64u(jd(GOOD))
write("token", "sig-es256-zero", hsi + "." + b64u(bytes(64)))
n256 = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
write("token", "sig-es256-order", hsi + "." + b64u(n256.to_bytes(32, "big") * 2))
write("token", "sig-es256-short", hsi + "." + b64u(bytes(63) + b"\x01"))
der = priv("ec_p256").sign(hsi.encode(), ec.ECDSA(hashes.SHA256()))
write("token", "sig-es256-der", hsi + "." + b64u(der))
good_rs = token({"alg": "RS256"}, GOOD).decode()
write("token", "sig-rs256-short", good_rs.rsplit(".", 1)[0] + "." + b64u(base64.urlsafe_b64decode(good_rs.rsplit(".", 1)[1] + "==")[1:]))
pub_pem = KEYS["ec_p256_pub"].encode()
si = (b64u(jd({"alg": "HS256"})) + "." + b64u(jd(GOOD))).encode()
write("token", "sig-confusion-pem-as-secret", si + b"." + b64u(hmac.new(pub_pem, si, hashlib.sha256).digest()).encode())
write("token", "sig-none-empty", b64u(b'{"alg":"none"}') + "." + b64u(jd(GOOD)) + ".")
write("token", "sig-hs256-truncated", token({"alg": "HS256"}, GOOD)[:-10])

# structure and base64 attacks
v = token({"alg": "HS256"}, GOOD).decode()
h64, p64, s64 = v.split(".")
for name, t in {
    "one-dot": h64 + "." + p64,
    "four-dots": "a.b.c.d.e",
    "three-dots": v + ".",
    "empty": "",
    "dots": "..",
    "empty-payload": h64 + ".." + s64,
    "json-serialization": '{"payload":"' + p64 + '","signatures":[]}',
    "padding": h64 + "=." + p64 + "." + s64,
    "std-alphabet": h64 + "." + p64.replace("-", "+").replace("_", "/") + "+/." + s64,
    "whitespace": h64 + ".\n" + p64 + "." + s64,
    "spare-bits": h64[:-1] + chr(ord(h64[-1]) + 1) + "." + p64 + "." + s64,
    "len-mod4-1": h64 + "A." + p64 + "." + s64,
    "bearer": "Bearer " + v,
    "nonascii": h64 + "." + p64 + "\u00e9." + s64,
}.items():
    write("token", "struct-" + name, t)

for i, vec in enumerate(VECTORS):
    write("token", "rfc-%d-%s" % (i, vec["alg"]), vec["token"])

# ---- JSON ----
J = {
    "empty-object": "{}",
    "header": '{"alg":"HS256","typ":"JWT","kid":"k1"}',
    "claims": jd(GOOD).decode(),
    "jwks": '{"keys":[{"kty":"oct","k":"AAAA"},{"kty":"EC"},[1,2],"x",null]}',
    "escapes": '{"a\\"b":"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00","\\u0000":1}',
    "surrogate-lone": '{"a":"\\udc00"}',
    "nul-escape": '{"a":"\\u0000"}',
    "numbers": '{"a":0,"b":-0.0,"c":1e308,"d":1E-400,"e":-12.5e+3,"f":123456789012345678901234567890}',
    "bad-numbers": '{"a":01,"b":.5,"c":1.,"d":+1,"e":0x10,"f":NaN,"g":Infinity}',
    "literals": '{"t":true,"f":false,"n":null,"T":True}',
    "nested": '{"a":{"b":{"c":[1,[2,[3]],{"d":{}}]}},"e":[{"x":1},{"x":2}],"f":[[],[[]]]}',
    "dup-top": '{"a":1,"b":2,"a":3}',
    "dup-nested": '{"o":{"k":1,"k":2}}',
    "dup-in-array": '{"l":[{"k":1},{"k":1,"k":2}]}',
    "dup-escaped": '{"alg":1,"\\u0061\\u006cg":2}',
    "not-dup-across": '{"a":{"k":1},"b":{"k":1},"k":[{"k":1}]}',
    "deep-32": "{" + '"a":[' * 31 + "]" * 31 + "}",
    "deep-33": "{" + '"a":[' * 32 + "]" * 32 + "}",
    "deep-unbalanced": "{}" + "]" * 10 + "[" * 40,
    "brackets-in-string": '{"a":"[[[[{{{{\\"[[[["}',
    "array-top": "[1,2,3]",
    "string-top": '"abc"',
    "ws": ' \t\n\r{ "a" : [ 1 , 2 ] } \n',
    "trailing-comma": '{"a":1,}',
    "trailing-garbage": '{"a":1} x',
    "unterminated": '{"a":"',
    "utf8-4byte": '{"\U0001F600":"\U0010FFFF"}',
    "control-char": '{"a":"\x01"}',
    "many-members": "{" + ",".join('"m%d":%d' % (i, i) for i in range(300)) + "}",
    "long-array": '{"a":[' + ",".join(str(i) for i in range(300)) + "]}",
    "mixed-array": '{"a":[1,"s",true,false,null,{"o":[]},[{}],-1.5e3]}',
    # the flat-object fast path: what it reads, and where it must give up
    "flat-scalars": '{"a":1,"b":-0,"c":1.5e3,"d":[1,"x",true,null],"e":"\u00e9","f":""}',
    "flat-spaces": '{ "sub" : "user-1" , "exp":4102444800 ,"aud":[ ] }',
    "flat-int-limits": '{"n":123456789012345678,"m":1234567890123456789,"z":-123456789012345678}',
    "flat-bad-literal": '{"a":truex}',
    "flat-bad-array": '{"a":[1,]}',
    "flat-nested-after": '{"k":"v","k2":{"x":1}}',
    "flat-17-members": "{" + ",".join('"m%d":%d' % (i, i) for i in range(17)) + "}",
}
for name, text in J.items():
    write("json", name, text)
write("json", "bad-utf8", b'{"a":"\xc3\x28"}')
write("json", "overlong-utf8", b'{"a":"\xc0\xaf"}')
write("json", "surrogate-utf8", b'{"a":"\xed\xa0\x80"}')
write("json", "nul-byte", b'{"a":"x\x00y"}')
for vec in VECTORS[:4]:
    write("json", "rfc-key-" + vec["alg"], jd(vec["key"]))

# ---- base64url ----
for name, text in {
    "empty": "", "f": "Zg", "fo": "Zm8", "foo": "Zm9v", "foob": "Zm9vYg",
    "spare-bits": "Zh", "spare-bits2": "Zm9", "mod1": "Zm9vY", "padding": "Zg==",
    "std": "+/+/", "url": "-_-_", "ws": "Zm9v\nYg", "nul": "Zm\x009v",
    "all": b64u(bytes(range(256))), "high": "\xff\xfe\x80A",
    "header": h64, "sig": s64,
}.items():
    write("b64url", name, text.encode("latin-1"))

# ---- keys: one flag byte (bit 0: is_secret), then the key text ----
def key(name, text, secret=False):
    write("key", name, bytes([1 if secret else 0]) + (text.encode() if isinstance(text, str) else text))


for name, text in KEYS.items():
    key("setup-" + name, text)
key("pem-ec-params-first", "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n" + KEYS["ec_p256_sec1"])
key("pem-truncated", KEYS["ec_p256"][:120])
key("pem-garbage-label", "-----BEGIN FOO-----\nAAAA\n-----END FOO-----\n")
key("pem-no-end", "-----BEGIN PUBLIC KEY")
key("pem-as-secret", KEYS["ec_p256_pub"], secret=True)
key("pem-two", KEYS["ec_p256_pub"] + KEYS["rsa_pub"])
key("secret-32", "0123456789abcdef0123456789abcdef")
key("secret-31", "0123456789abcdef0123456789abcde")
key("secret-64-bytes", bytes(range(64)), secret=True)
key("secret-brace", b"{" + bytes(range(40)), secret=True)
key("secret-json-as-secret", '{"kty":"oct","k":"' + b64u(bytes(32)) + '"}', secret=True)
key("secret-not-json", "{ this is not json but long enough to be a secret }")
key("jwk-oct", jd({"kty": "oct", "k": b64u(bytes(range(48))), "alg": "HS384", "kid": "o"}))
key("jwk-oct-short-alg", jd({"kty": "oct", "k": b64u(bytes(40)), "alg": "HS512"}))
key("jwk-oct-bad-b64", jd({"kty": "oct", "k": "AAAA="}))
key("jwk-use-enc", jd({"kty": "oct", "k": b64u(bytes(32)), "use": "enc"}))
key("jwk-unknown-kty", jd({"kty": "XYZ"}))
key("jwk-alg-none", jd({"kty": "oct", "k": b64u(bytes(32)), "alg": "none"}))
key("jwk-alg-mismatch", KEYS["ec256_pub_jwk"][:-1] + ',"alg":"ES384"}')
key("jwk-ec-crv-unknown", KEYS["ec256_pub_jwk"].replace("P-256", "P-257"))
key("jwk-ec-short-x", jd({"kty": "EC", "crv": "P-256", "x": b64u(bytes(31) + b"\x01"), "y": b64u(bytes(32))}))
key("jwk-ec-long-x", jd({"kty": "EC", "crv": "P-256", "x": b64u(bytes(33)), "y": b64u(bytes(32))}))
key("jwk-ec-d-mismatch", json.dumps(dict(json.loads(KEYS["ec256_pub_jwk"]), d=b64u(bytes(31) + b"\x07"))))
key("jwk-okp-d-mismatch", json.dumps(dict(json.loads(KEYS["ed25519_pub_jwk"]), d=b64u(bytes(32)))))
key("jwk-okp-x25519", jd({"kty": "OKP", "crv": "X25519", "x": b64u(bytes(32))}))
rsa_jwk = json.loads(KEYS["rsa_jwk"])
key("jwk-rsa-no-factors", jd({k: rsa_jwk[k] for k in ("kty", "n", "e", "d")}))
bad_d = rsa_jwk["d"]
key("jwk-rsa-bad-d", jd({"kty": "RSA", "n": rsa_jwk["n"], "e": rsa_jwk["e"],
                         "d": bad_d[:10] + ("B" if bad_d[10] == "A" else "A") + bad_d[11:]}))
key("jwk-crv-utf8-cut", '{"kty":"EC","crv":"a' + "\u00e9" * 30 + '"}')
key("jwk-rsa-some-factors", jd({k: rsa_jwk[k] for k in ("kty", "n", "e", "d", "p")}))
key("jwk-rsa-oth", jd(dict(rsa_jwk, oth=[])))
key("jwk-rsa-e-zero", jd({"kty": "RSA", "n": rsa_jwk["n"], "e": "AA"}))
key("jwk-rsa-small", jd({"kty": "RSA", "n": b64u(b"\xc1" + bytes(127)), "e": "AQAB"}))
key("jwk-not-object-members", jd({"kty": ["oct"], "k": 1}))
pubs = [json.loads(KEYS[n]) for n in ("rsa_pub_jwk", "ec256_pub_jwk", "ed25519_pub_jwk", "ed448_pub_jwk", "ec521_pub_jwk")]
for i, k in enumerate(pubs):
    k["kid"] = ["rsa", "ec256", "ed25519", "ed448", "ec521"][i]
key("jwks-public", jd({"keys": pubs}))
key("jwks-dup-kid", jd({"keys": [dict(pubs[1], kid="a"), dict(pubs[2], kid="a")]}))
key("jwks-mixed", jd({"keys": [pubs[1], {"kty": "oct", "k": b64u(bytes(32))}]}))
key("jwks-enc-only", jd({"keys": [{"kty": "oct", "k": b64u(bytes(32)), "use": "enc"}]}))
key("jwks-empty", '{"keys":[]}')
key("jwks-not-array", '{"keys":{}}')
key("jwks-elem-not-object", '{"keys":[1,"a",[{}]]}')
key("jwks-bad-key", jd({"keys": [pubs[1], {"kty": "EC"}]}))
try:  # an EC key with explicit curve parameters (refused), made by the openssl CLI
    explicit = subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                               "-pkeyopt", "ec_param_enc:explicit"], capture_output=True, check=True).stdout
    key("pem-ec-explicit", explicit)
    explicit_pub = subprocess.run(["openssl", "pkey", "-pubout"], input=explicit, capture_output=True,
                                  check=True).stdout
    key("pem-ec-explicit-pub", explicit_pub)
    # the same with another generator (2G, as in CVE-2020-0601): no named curve matches
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=explicit_pub,
                         capture_output=True, check=True).stdout

    def point(k):
        n = k.public_key().public_numbers()
        return b"\x04" + n.x.to_bytes(32, "big") + n.y.to_bytes(32, "big")

    g1, g2 = (point(ec.derive_private_key(i, ec.SECP256R1())) for i in (1, 2))
    key("pem-ec-explicit-other-generator",
        subprocess.run(["openssl", "pkey", "-pubin", "-inform", "DER"], input=der.replace(g1, g2),
                       capture_output=True, check=True).stdout)
except (OSError, subprocess.CalledProcessError):
    pass
# -- issue 12: key spellings that are not secrets, small-order and wrong-length
# -- EdDSA keys, key_ops, RSA exponents, ROCA moduli, key-set bounds (keep this
# -- block self-contained: it can be run on its own to add these seeds only)
def issue12_key_seeds():
    def body(pem):
        return "".join(l for l in pem.strip().splitlines() if not l.startswith("-----"))
    for name in ("rsa_pub", "ec_p256_pub", "ed25519_pub"):
        pk = serialization.load_pem_public_key(KEYS[name].encode())
        ssh = pk.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
        key("ssh-" + name, ssh + " alice@example")
        key("ssh-" + name + "-bytea", ssh, secret=True)
        key("ssh-" + name + "-options", 'from="10.0.0.1",no-pty ' + ssh + "\n")
        blob = ssh.split()[1]
        key("rfc4716-" + name, "---- BEGIN SSH2 PUBLIC KEY ----\nComment: \"test\"\n"
            + "\n".join(blob[i:i + 70] for i in range(0, len(blob), 70)) + "\n---- END SSH2 PUBLIC KEY ----\n")
    key("putty-header", "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\n")
    for name in ("rsa_pub", "rsa_pub_pkcs1", "rsa", "ec_p256_sec1", "ed25519_pub", "ed25519_cert"):
        key("b64der-" + name, body(KEYS[name]))
        key("b64der-" + name + "-bytea", body(KEYS[name]), secret=True)
    key("b64der-rsa_pub-wrapped", "\n".join(l for l in KEYS["rsa_pub"].splitlines() if not l.startswith("-----")))
    key("b64der-rsa_pub-url", body(KEYS["rsa_pub"]).replace("+", "-").replace("/", "_").rstrip("="))
    key("b64-secret-starting-M", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
    key("b64-der-garbage", "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAAAAAAAAAAAAAAAAAAAAA")
    key("pem-begin-no-dashes", KEYS["ec_p256"].replace("-----BEGIN PRIVATE KEY-----", "-----BEGIN PRIVATE KEY"))
    # Ed25519 points of small order (8) and non-canonical spellings; Ed448 likewise
    ed25519_bad = ["01" + "00" * 31, "ec" + "ff" * 30 + "7f", "00" * 32, "00" * 31 + "80",
                   "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
                   "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
                   "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
                   "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
                   "ed" + "ff" * 30 + "7f", "ee" + "ff" * 30 + "7f", "01" + "00" * 30 + "80"]
    for i, x in enumerate(ed25519_bad):
        raw = bytes.fromhex(x)
        key("okp-ed25519-small-%d" % i, jd({"kty": "OKP", "crv": "Ed25519", "x": b64u(raw)}))
        key("okp-ed25519-small-%d-pem" % i, "-----BEGIN PUBLIC KEY-----\n"
            + base64.b64encode(bytes.fromhex("302a300506032b6570032100") + raw).decode() + "\n-----END PUBLIC KEY-----\n")
    ed448_bad = ["01" + "00" * 56, "fe" + "ff" * 27 + "fe" + "ff" * 27 + "00", "00" * 57, "00" * 56 + "80",
                 "ff" * 28 + "fe" + "ff" * 27 + "00", "01" + "00" * 55 + "01"]
    for i, x in enumerate(ed448_bad):
        key("okp-ed448-small-%d" % i, jd({"kty": "OKP", "crv": "Ed448", "x": b64u(bytes.fromhex(x))}))
    ed = json.loads(KEYS["ed25519_jwk"])
    key("okp-x-31", jd({"kty": "OKP", "crv": "Ed25519", "x": b64u(base64.urlsafe_b64decode(ed["x"] + "=")[1:])}))
    key("okp-d-31", jd(dict(ed, d=b64u(base64.urlsafe_b64decode(ed["d"] + "=")[1:]))))
    key("okp-ed448-x-56", jd({"kty": "OKP", "crv": "Ed448", "x": b64u(bytes(56))}))
    # key_ops
    ecj = json.loads(KEYS["ec256_pub_jwk"])
    for ops in (["encrypt"], [], ["sign"], ["verify"], ["sign", "verify"], ["verify", "verify"], "verify", ["verify", 1]):
        key("jwk-key-ops-%s" % (json.dumps(ops).replace('"', "").replace(" ", "").strip("[]") or "empty"),
            jd(dict(ecj, key_ops=ops)))
    key("jwk-key-ops-private-verify", jd(dict(json.loads(KEYS["ec256_jwk"]), key_ops=["verify"])))
    key("jwks-key-ops", jd({"keys": [dict(ecj, kid="a", key_ops=["encrypt"]), dict(ecj, kid="b", key_ops=["sign"]),
                                     dict(ecj, kid="c")]}))
    # RSA exponents and moduli
    rj = json.loads(KEYS["rsa_pub_jwk"])
    for name, e in (("3", 3), ("65535", 65535), ("even", 65536), ("2e256p1", 2 ** 256 + 1), ("2046bit", 2 ** 2045 + 1)):
        key("jwk-rsa-e-" + name, jd(dict(rj, e=b64u(e.to_bytes((e.bit_length() + 7) // 8, "big")))))
    key("jwk-rsa-n-9000", jd(dict(rj, n=b64u(b"\x80" + b"\xab" * 1124 + b"\x01"))))
    # a modulus with the ROCA fingerprint: n = 65537 (mod every prime 3..167)
    m = 1
    for r in [p for p in range(3, 168) if all(p % q for q in range(2, p))]:
        m *= r
    n = 65537 + m * (2 ** 1830 + 2)
    key("jwk-rsa-roca", jd(dict(rj, n=b64u(n.to_bytes((n.bit_length() + 7) // 8, "big")))))
    # key-set bounds
    # (small keys: the key target's inputs are at most 8192 bytes)
    oct32 = {"kty": "oct", "k": b64u(bytes(32))}
    key("jwks-101-keys", jd({"keys": [dict(oct32, kid=str(i)) for i in range(101)]}))
    key("jwks-dup-kid-far", jd({"keys": [dict(oct32, kid=str(i if i != 90 else 2)) for i in range(100)]}))


issue12_key_seeds()
for i, vec in enumerate(VECTORS):
    key("rfc-%d-%s" % (i, vec["alg"]), jd(vec["key"]))
    if "public_key" in vec:
        key("rfc-%d-%s-pub" % (i, vec["alg"]), jd(vec["public_key"]))

# ---- tokens in fuzz_token's structured form: 0, header, 0, payload, 0, signature ----
def unb64u(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


tdir = os.path.join(OUT, "token")
for name in sorted(os.listdir(tdir)):
    if not name.startswith(("valid-", "header-", "claims-")):
        continue
    parts = open(os.path.join(tdir, name), "rb").read().decode().split(".")
    try:
        raw = [unb64u(p) for p in parts]
    except ValueError:
        continue
    write("token", "seg-" + name, b"\x00" + b"\x00".join(raw))
