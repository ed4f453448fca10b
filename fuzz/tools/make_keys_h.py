#!/usr/bin/env python3
"""Write fuzz/fuzz_keys.h: test keys from sql/jwt_setup.sql as C strings.

The keys protect nothing; they are the regression suite's test keys.
Run from the repository root: python3 fuzz/tools/make_keys_h.py
"""
import re
import sys

NAMES = ["ec_p256", "ec_p256_pub", "ec_p384", "ec_p521", "rsa", "ed25519",
         "ed448", "rsa_pub_jwk", "ec256_pub_jwk", "ed25519_pub_jwk", "ed448_pub_jwk",
         "ec521_pub_jwk"]

sql = open("sql/jwt_setup.sql").read()
keys = dict((m.group(1), m.group(2)) for m in
            re.finditer(r"\('([a-z0-9_]+)', \$k\$(.*?)\$k\$\)", sql, re.S))


def c_string(s):
    out = []
    for line in s.splitlines(True):
        out.append('\t"' + line.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"')
    return "\n".join(out)


with open("fuzz/fuzz_keys.h", "w") as f:
    f.write("/*\n * fuzz/fuzz_keys.h - test keys for the fuzz targets\n *\n"
            " * Generated from sql/jwt_setup.sql by fuzz/tools/make_keys_h.py; they protect\n"
            " * nothing.\n */\n#ifndef JWT_FUZZ_KEYS_H\n#define JWT_FUZZ_KEYS_H\n\n")
    for n in NAMES:
        if n not in keys:
            sys.exit("no key " + n)
        f.write("static const char fuzz_key_%s[] =\n%s;\n\n" % (n, c_string(keys[n])))
    f.write("#endif\n")
