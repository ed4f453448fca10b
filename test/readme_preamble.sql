-- Run by test/readme.t.sh in the psql session that then runs README.md's ```sql blocks:
-- the psql variables the README's examples use and do not set themselves.
-- Errors as README.md shows them: with the SQLSTATE (psql also prints a LOCATION line).
\set VERBOSITY verbose
-- Keys made by test/readme.t.sh with openssl in $JWT_README_KEYS (PEM text):
\set rsa_private_pem `cat "$JWT_README_KEYS/rsa_private.pem"`
\set rsa_public_pem `cat "$JWT_README_KEYS/rsa_public.pem"`
\set ed25519_private_pem `cat "$JWT_README_KEYS/ed25519_private.pem"`
\set ed25519_public_pem `cat "$JWT_README_KEYS/ed25519_public.pem"`
-- An identity provider's JWKS: the public half of rsa_private_pem (kid "idp-2026", RS256)
-- and an encryption key ("use":"enc") of another RSA key.
\set provider_jwks `cat "$JWT_README_KEYS/provider_jwks.json"`
-- An HMAC secret (at least 32 bytes for HS256).
\set secret 'correct horse battery staple 123456'
