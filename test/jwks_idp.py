"""A small identity provider for test/jwks_url.t.sh (Debian python3 only).

  jwks_idp.py serve ROOT PORT CERT KEY   HTTPS (or plain http with CERT = -) on 127.0.0.1
  jwks_idp.py key ROOT TENANT KID        a new RSA key: ROOT/TENANT/KID.pem, and its
                                          public JWK added to ROOT/TENANT/jwks.json
  jwks_idp.py drop ROOT TENANT KID       remove KID from ROOT/TENANT/jwks.json
  jwks_idp.py sign ROOT TENANT KID ISS   print an RS256 token signed by KID (iss ISS)

Each tenant is an issuer: https://127.0.0.1:PORT/TENANT, with its discovery
document at /TENANT/.well-known/openid-configuration and its JWKS at
/TENANT/jwks.  ROOT/TENANT/mode (read on every request) makes it misbehave:
ok, wrong-issuer, oversized, slow, malformed, redirect, html, private, empty,
status500, toomany, duplicate.  ROOT/TENANT/hits counts the JWKS requests.
"""
import json
import os
import sys
import time


def tenant_dir(root, tenant):
    d = os.path.join(root, tenant)
    os.makedirs(d, exist_ok=True)
    return d


def load_jwks(d):
    p = os.path.join(d, "jwks.json")
    if not os.path.exists(p):
        return {"keys": []}
    with open(p) as f:
        return json.load(f)


def save_jwks(d, jwks):
    tmp = os.path.join(d, "jwks.json.tmp")
    with open(tmp, "w") as f:
        json.dump(jwks, f)
    os.replace(tmp, os.path.join(d, "jwks.json"))


def cmd_key(root, tenant, kid):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from jwt.algorithms import RSAAlgorithm

    d = tenant_dir(root, tenant)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with open(os.path.join(d, kid + ".pem"), "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update({"kid": kid, "alg": "RS256", "use": "sig"})
    jwks = load_jwks(d)
    jwks["keys"] = [k for k in jwks["keys"] if k.get("kid") != kid] + [jwk]
    save_jwks(d, jwks)


def cmd_drop(root, tenant, kid):
    d = tenant_dir(root, tenant)
    jwks = load_jwks(d)
    jwks["keys"] = [k for k in jwks["keys"] if k.get("kid") != kid]
    save_jwks(d, jwks)


def cmd_sign(root, tenant, kid, iss):
    import jwt

    with open(os.path.join(root, tenant, kid + ".pem"), "rb") as f:
        pem = f.read()
    now = int(time.time())
    print(jwt.encode({"iss": iss, "sub": "user-" + kid, "iat": now, "exp": now + 3600},
                     pem, algorithm="RS256", headers={"kid": kid}))


def cmd_serve(root, port, cert, key):
    import http.server
    import ssl

    scheme = "http" if cert == "-" else "https"

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def reply(self, status, body, ctype="application/json", extra=()):
            data = body.encode() if isinstance(body, str) else body
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            for k, v in extra:
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            parts = self.path.split("/", 2)
            if len(parts) < 3 or not parts[1].isidentifier():
                return self.reply(404, "{}")
            tenant, rest = parts[1], "/" + parts[2]
            d = tenant_dir(root, tenant)
            try:
                with open(os.path.join(d, "mode")) as f:
                    mode = f.read().strip()
            except FileNotFoundError:
                mode = "ok"
            issuer = "%s://127.0.0.1:%d/%s" % (scheme, port, tenant)
            if rest == "/.well-known/openid-configuration":
                doc = {"issuer": issuer + ("-impostor" if mode == "wrong-issuer" else ""),
                       "jwks_uri": issuer + "/jwks"}
                return self.reply(200, json.dumps(doc))
            if rest != "/jwks":
                return self.reply(404, "{}")
            with open(os.path.join(d, "hits"), "a") as f:
                f.write("x")
            jwks = load_jwks(d)
            if mode == "oversized":
                jwks["padding"] = "A" * (2 * 1024 * 1024)
            elif mode == "slow":
                time.sleep(5)
            elif mode == "malformed":
                return self.reply(200, json.dumps(jwks)[:-20])
            elif mode == "redirect":
                return self.reply(302, "", extra=[("Location", "https://jwks.attacker.example/jwks")])
            elif mode == "html":
                return self.reply(200, json.dumps(jwks), ctype="text/html")
            elif mode == "private":
                jwks["keys"] = [dict(k, d="AQAB") for k in jwks["keys"]]
            elif mode == "empty":
                jwks = {"keys": []}
            elif mode == "status500":
                return self.reply(500, "{}")
            elif mode == "toomany":
                jwks["keys"] = [dict(jwks["keys"][0], kid="k%d" % i) for i in range(101)]
            elif mode == "duplicate":
                # the same member twice: parsers disagree on which one counts
                body = json.dumps(jwks)
                return self.reply(200, body[:-1] + ', "keys": []}')
            extra = []
            if os.path.exists(os.path.join(d, "cache_control")):
                with open(os.path.join(d, "cache_control")) as f:
                    extra.append(("Cache-Control", f.read().strip()))
            self.reply(200, json.dumps(jwks), extra=extra)

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True

    srv = Server(("127.0.0.1", port), Handler)
    if scheme == "https":
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    srv.serve_forever()


if __name__ == "__main__":
    c, a = sys.argv[1], sys.argv[2:]
    if c == "serve":
        cmd_serve(a[0], int(a[1]), a[2], a[3] if len(a) > 3 else None)
    elif c == "key":
        cmd_key(*a)
    elif c == "drop":
        cmd_drop(*a)
    elif c == "sign":
        cmd_sign(*a)
    else:
        sys.exit("unknown command " + c)
