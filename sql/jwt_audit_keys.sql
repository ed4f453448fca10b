-- jwt_audit_keys: issue 12 items 6-11, 13, 21: keys that must not be accepted, resource limits
-- Each test names the attack it replays.
-- Test keys made for this suite only (python3-cryptography, ssh-keygen -e): a 2048-bit RSA key
-- whose primes have Infineon's ROCA form, RSA public keys with e = 3, a 2046-bit e and a
-- 9000-bit modulus, an 8192-bit RSA key, and the OpenSSH / RFC 4716 spellings of test_keys.
CREATE TABLE audit_keys (name text PRIMARY KEY, key text NOT NULL);
INSERT INTO audit_keys VALUES
('roca_jwk', $k${"kty":"RSA","n":"2uJkhhfRegQXZa9rdJ-PepZq2TRUUwSW8PwozIvdtswz6yXhJhRsK7eFjo0IJpppvOI6Df9UM-ZgBi4ZuT0b0wJFgWADpIxqSbTkF6CHy7BqqG90-Byw8_TzFfPCouEnlv6yg2rG-wiN5ZHfrlUetNtyfmxMduRxHn6bk2jENRedVuJ0Y3-DFkOo-iKvXuv7fklbbJyIeWxCBrpmPzjAUuoDQh1W0NWJcY31ySFmXGh052FUlhdU_0_v5TgKviiUx0LJQbPRbCsUnSuH_-PkqS2i5IlSECL0X4eQ4Fqz_lAXz-O519cH8APOxdIRY-uoS6U-JptCIQfzzAsNVQ8KPQ","e":"AQAB","d":"LR_1R2vLpNMJG86RYaavhr9R4duW8tKEZ8QkiR7go5nvri_N_fLB5jVclGng30yANg-RlmcoLdb1vvBsHzNI9DSIrcZkmdzU4MMpLvHKbSS-qGDqBWis1m6OWt05KCkw50E0_kDaKtC1qDltmtwzi2eecA_Vp8EqzPWfD0HPCX6mEsX312hU5704qT1FEtM8g-Gm_JNh6HNFyroG2iNPRuHIwRu-sVQqnvR0eiCymUOTM2hPEEbd0wCsWja8l5BYTzqkc37NMk4LdtQhHO52tYK0dWc7SA8me-c4PvkHwNTYUEGPhqV1CkcboLreYkAhzYO9yDEDAon7lhRSHcnHJQ","p":"-fcoSVbvaQYYYX_5ABDOv1wz5HJ38fP1_ls5Vp8CQx_D68epMBDzgfHRZNttMVxUiHm3zEc-BMUUVOq_vEPt6CoIN1Uoww4DiCT5cujxsuGk9TQvDNn09en3wwOEZXTlyqqgWS7eSG7Ij95eumzFzAJb6FbMN9la4GwlMlUfwBM","q":"4CslpVRLgX8RB4BqtO5FkVaCK1C54qL_a750gb5fzkXKwKmuMP-ukZrswqx23DGpA0eHuJzzr7m4pv5G1pc9MlqXXLKigANVnVD2iAsJPc_Eqrsjvs-0CZSVnkNH-mmScsrZFgpwJHF7tPz3LKdBXwzB_MdS_KVykDf6Kdt2dm8","dp":"DONMZXOhBmY1DZneib1UG5OybT3lp0jvzvx_GVM7d6CEpnx14a-ODo4cQLn7iEb9aMf1zQeDUBWlNbegySErfAPmxouSfXQUhIl7fww5ogJ2Udot7tiyA5fbmWduBRkg2_EuMUr0VQG5P4m0kqIXFKyudm07PEntoJKS3GR9LZc","dq":"3U1bReN5AyepbSl2rpYH8dpgeVihmj9mPzzvkeKafG3kIt2gjNjtwusaT3mpgeo4u3cTYsr3vARyadHfpxv5m0tZ4Hat_AjOrZbvOxECF5aUxiQnvskYKNkZ9_reBTXSESd2ts6pNSEfimatsdSQscBLhjxVDfxbpErO2iHByls","qi":"-YE9fWGl-f0yHZFiXgPzHz-XiEFu5pLQDrOJuxH4MnEnKlbhXvi-JWnb5yipeeislHtcObyAVL1BVDDBqvEtoqZ7dHCbcxjgxaoLmOiKbhNsFbNLZG5DnXFSIoQnJWRxMHtAf2C1xVqoIVbOxT9dxlYKbVJbT0v23DoYAm55a-Y"}$k$),
('roca_pub_jwk', $k${"kty":"RSA","n":"2uJkhhfRegQXZa9rdJ-PepZq2TRUUwSW8PwozIvdtswz6yXhJhRsK7eFjo0IJpppvOI6Df9UM-ZgBi4ZuT0b0wJFgWADpIxqSbTkF6CHy7BqqG90-Byw8_TzFfPCouEnlv6yg2rG-wiN5ZHfrlUetNtyfmxMduRxHn6bk2jENRedVuJ0Y3-DFkOo-iKvXuv7fklbbJyIeWxCBrpmPzjAUuoDQh1W0NWJcY31ySFmXGh052FUlhdU_0_v5TgKviiUx0LJQbPRbCsUnSuH_-PkqS2i5IlSECL0X4eQ4Fqz_lAXz-O519cH8APOxdIRY-uoS6U-JptCIQfzzAsNVQ8KPQ","e":"AQAB"}$k$),
('roca_pub', $k$-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA2uJkhhfRegQXZa9rdJ+P
epZq2TRUUwSW8PwozIvdtswz6yXhJhRsK7eFjo0IJpppvOI6Df9UM+ZgBi4ZuT0b
0wJFgWADpIxqSbTkF6CHy7BqqG90+Byw8/TzFfPCouEnlv6yg2rG+wiN5ZHfrlUe
tNtyfmxMduRxHn6bk2jENRedVuJ0Y3+DFkOo+iKvXuv7fklbbJyIeWxCBrpmPzjA
UuoDQh1W0NWJcY31ySFmXGh052FUlhdU/0/v5TgKviiUx0LJQbPRbCsUnSuH/+Pk
qS2i5IlSECL0X4eQ4Fqz/lAXz+O519cH8APOxdIRY+uoS6U+JptCIQfzzAsNVQ8K
PQIDAQAB
-----END PUBLIC KEY-----
$k$),
('e3_pub', $k$-----BEGIN PUBLIC KEY-----
MIIBIDANBgkqhkiG9w0BAQEFAAOCAQ0AMIIBCAKCAQEAsb+3uMbkeVT84UH7yYtO
QAllJ5Wtr94Z88dxsKXJcw2Vm3cQe6ulhl5NayFdEXvqAMwFfCG3fdf11dcoUMlk
eXR40a0pcy6M8WZZEaS2eUXec44W3s8PrdCD4HDDxllews+Ix7uRJIH7Ud7dHKsG
ksMGsRwbcMcHfVHlFvN/T7vIZO77QPOvJCGRiMH3nsmmEwPGFv00tc7wS/Z9Wf+I
oK2Bl7xjWZK/jiPmf+4QwL9adEkZ+muLAT2/06wBlC5XQcE5HzGHCa5OwNsnovhR
z2lxwjV9Y8emCUD9r7UafByijW5Cx1SwWc547BPiHIpMlyRr6aV7ewCAU7C4OnFs
NwIBAw==
-----END PUBLIC KEY-----
$k$),
('big_e_pub', $k$-----BEGIN PUBLIC KEY-----
MIICITANBgkqhkiG9w0BAQEFAAOCAg4AMIICCQKCAQEAsb+3uMbkeVT84UH7yYtO
QAllJ5Wtr94Z88dxsKXJcw2Vm3cQe6ulhl5NayFdEXvqAMwFfCG3fdf11dcoUMlk
eXR40a0pcy6M8WZZEaS2eUXec44W3s8PrdCD4HDDxllews+Ix7uRJIH7Ud7dHKsG
ksMGsRwbcMcHfVHlFvN/T7vIZO77QPOvJCGRiMH3nsmmEwPGFv00tc7wS/Z9Wf+I
oK2Bl7xjWZK/jiPmf+4QwL9adEkZ+muLAT2/06wBlC5XQcE5HzGHCa5OwNsnovhR
z2lxwjV9Y8emCUD9r7UafByijW5Cx1SwWc547BPiHIpMlyRr6aV7ewCAU7C4OnFs
NwKCAQAgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
AAAAAAAAAAAAAAAAAAAAAAAAAAAB
-----END PUBLIC KEY-----
$k$),
('big_n_pub', $k$-----BEGIN PUBLIC KEY-----
MIIEhzANBgkqhkiG9w0BAQEFAAOCBHQAMIIEbwKCBGYAgsCdWs90QkFI5Wr+Gk55
kzPztG4b7zdNQAVjYSj/bHi2NnVO2oJ1HthwCJDZ/IgplgmBjmQjzTxOl4HEgVCr
wmEvzyA6SdeYOwIghMbFb0n/6uiPKL5YCBpCekTSnjcYP5y3ZMRbqW7tiaMpJCvF
6Ot1j1T23AYuTIHVQga77uv3sjGkKw6kDKvMfqBB5zOAcKzEx0uWzSOC7bBcCtBr
ixA7XzvHRQe2IVJeZ2dkK7cCgrWffVUdF3ZmRp3BbON3HObpWWeii4JFDi3eHjD2
bCqdPSoL0nFS9+yQb+rU4hGoDyk2ZtJrp28sFgHV4/qxbtsTUK3DX6qb+ymOXPPj
aJ4zj4/nfidRo5aAv6pLDLYPeLT2x8LOUZe+KdDbgSd/iNMJWiZnSYp22fNuX3sF
SQOA9hDR2g4A7aiMG9impKF8cZBvA5zPDgx5XNpGL4X3BSVNvJf5HNSvRcVJmFAK
C9D/hQFsxvULP/Cru2GwtY3xwhi+8ZZxSeFZg+20usivpjzUqidoyxx0Cj7oKYi0
ubRfBEOXokIc+GFV5ETSHavOmZQx0TZtvYaqXXY5OpQfaJiOKIXnIXkyUNgPA3do
4NT/s4guMxScQUvkrVxkT+1QhQbMHRTbUeW/2i4/ziqPymSo22YgS3ViZJ4+14uf
hn5bywlf/1yKCg+RdZJSilCRfX0GoxsS4HVBo8orD59rtXidwssauE0DTfe4lEZO
NpNiZT7cxdHubhG0+utZ34KXSPsrQ91LIkQVIQOxIoIqDhcjEFmKxL9zLakoXuFZ
Oj6pUu8M3dSkznVyJhwnBYJ0sHJxkpO61BBQknT2SSyB8JL54OHRg/2E4Jiqj4mn
fAxbqmcosJBILk5779ndUKG5vQJ3J5HoXLL5YVtpNF/5Y90JRrV/xgzKdNxdGB0y
ulH971kdMr6NiYtqZCLBslhTGktBETQrx6yDLWN7uvNVIYRax2akn6GudrtyIDA7
VQxGP16MzZckKxGEunKkJR0O5FUQXa+7uAkk0WbinMpvrJCUyL/uyZycnpzKJE8N
08B8WaVWvYUgohhOwTD+l3V5WqgOePYDe3pEGPeu6BGPUIIstviSmbrNqHCsdNNw
eoGsWDkYlQbiwMeBSupJ8bq6YtOukSQwC8h7Rvmok8sRyd9udwC+TDNpz9PiKHHF
tKWFY2KVdCUknmh+kQ96JgtB9rQ5cZukMl3fnlwJShCie3SUdlb6SSo/X3I1kqea
mdt+CIwR8IN52rQxuLuI4tbeMJw7p2ysu7A4re3zQZkhL6yxyXW2CGHyMluNZEjC
iFiCuN5XGFggQZKVT9cmKgHp9vF+CpcXmBW/xY1iVbLUV3GInnXPPm3kr/cg7joq
9KsvhGXFTnf1PMXGzIdR7hv2yEEN/b+wbWdDS38b3rFzmNUfloVAYJz1dwTbMNKE
cYrZ/YA3f7t0L6loB4pcUBua6RKwtSK/RLYu/5kFZxzRWLgxY402UycnpRy61KWj
oeh9TZwdAgMBAAE=
-----END PUBLIC KEY-----
$k$),
('rsa8192_pub_jwk', $k${"kty":"RSA","n":"50Uy2y2F-jW_5Bmh361o3iVQqIrGiJQqkhqM4mBmoKp-pIgZdrZRagarpCR_OCmFdQsnn2GchIzc5CiVd4FReZVkeob1rKriLBM7mHxL-gzmgLknaYkfo-UpSMsJyni3MsnxWjWXU6NzPh22keKcST0blcEhEmiNSDCybibV66uhTEhO3-qY_bwwp5U5nAftgUbBAllmYXaF3apaAlqsiDRhYs230nc877gNt9-9Aw6DZt4gu00-p9zpNCoSO-iTKV7BSeIWtSC1aT7KVD5Z8HYraBVtKa_EP5Tgw08hmm29RWzhfxWdJ1Er8RNN7MqIMxgYfWJzdmVa_p0EZxpJ2aK3SJ_YGK7cV6r06_aZcZZiprHvT_2ySwFenrSk-AXqlG7pNO5ZGU26i6zxnGv8jF4_clkWksFobNdccA2MwrMCt9RkUiQP1haFqHZPMbFTK1HPXU2Og2E6BcaKbu1AJxt55qPEPiXGQjTpv89ZZNRKqlCLvvbGW4YbOOUTGkcOQkkdJw3Wc4xMbT5MM9Ywi8a6xNQSqSPxi3s5gymtwenimUSEyCxOC3mNIf8zf_sVz6j6CDKXbrBtBPmH6N1Ncm5stXxDK1f23PkVjnZds6fn7nGQ2fOTuitUnIHoW2on_dP4dzeFUbqY2mlNOERhmXfgQkY0WPQDkAwhUP2MjkBzUE97BfG3PQar9FwdvJHhULgODj89j7D75GS10wC6M5c-3YyhcTSIQUn2CPTFCRBiewPkpwjFshxykXAKUQGKlI0ebhlFS3Qc8cYzxPlVbsSgNhKdtgKMrysLx8Q5hmHDwUnzEdWFmzxdhkkRyozjF0V-dEp0CexyZhemQQfRJdfkYmG1Sq7kaCXdTWMhcQCKeAAiCjZl5ei9YUT5naqAxN46ev5h5Xk9p1c8Trp-T8KHsczwWf7TpkIfqEkZKfL6ijBw6VZOwx-j-nRwOps9PJWfGD250BVJuvJ4aK4tLLlWQkr_rKjjfPzR1xeZQrIJeL2jJMltNfgNleGgC2q-pcmtZpYQwphZwSc_7MG8_JJ4gc9oVO8WY6szWTmEfYEG_sgB0__TtX-unyfZSdWu5zA6hSASW76dkMVBO0swDjUiQ4ZonXiUUSdRa0o0vxDGxfJMmJ1rLsl8iIpIrv3rb9epoQ7bBQgfcu1KmQ-wmk1aUGt2NUXbLOjQCT3lcUndVXyeq-NaZ6OgDVFFPlsnVdLx87AyUYKCWiDg7ovCIqDtnCRWR-L1VeqlHSJdkFWmE0MvvxobI8HfLpduGguhcBKoO_ksxd2I9MFjE-cDk3lFPVSwdXDaZrSxnMwAQW5Mw3ObUy5bS0Z8tMvhWf3CgdO4qJzyI7DguZTji131RQ","e":"AQAB"}$k$),
('ssh_rsa', $k$ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC4B4VvdDWUjY+rshs7LVdK1xkLjOPNBNGKEveV0CNAyBKhwWO2v+N3863mrEzCz0gNqOdFNw3sS4y2bw8WQNpgn7HCQzKm0aOtN+Y286KjaCIX9Ol+u2NirCQX+iBuqGsyHlRJDEHQW6q4NgU+GB+8760AeI0TYRTgxpOQf+ZojvjK7pB5yeeoQCyVPJr3OC3uq/TgBF7dcO0/tyQ0BqnVRz2XpTH1tzMoJ1fZtRE1NCTukDCz0WXe1AbA3nLY5BkO79JovS3QYvtPd2Prjg2tvUOl/CtT/laWM2Lc982YNc/Ttx8Xtg5UOW6UQhItiVrfVb5ZeP1atsGAzmVttLtv$k$),
('ssh_ed25519', $k$ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHabwJVc1CxhSySBpmwvCbHlWFozpCyNMysD9Yz8lUmc$k$),
('ssh_ecdsa', $k$ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBPwEoEAaDptUWCIMp7WhHzow85ryW0nX9LAmt7oH62/3pjX8ewE07PhA+A52xmNyW3Rl8YFYEwImYcP20kHyYPE=$k$),
('rfc4716_rsa', $k$---- BEGIN SSH2 PUBLIC KEY ----
Comment: "2048-bit RSA, test key"
AAAAB3NzaC1yc2EAAAADAQABAAABAQC4B4VvdDWUjY+rshs7LVdK1xkLjOPNBNGKEveV0C
NAyBKhwWO2v+N3863mrEzCz0gNqOdFNw3sS4y2bw8WQNpgn7HCQzKm0aOtN+Y286KjaCIX
9Ol+u2NirCQX+iBuqGsyHlRJDEHQW6q4NgU+GB+8760AeI0TYRTgxpOQf+ZojvjK7pB5ye
eoQCyVPJr3OC3uq/TgBF7dcO0/tyQ0BqnVRz2XpTH1tzMoJ1fZtRE1NCTukDCz0WXe1AbA
3nLY5BkO79JovS3QYvtPd2Prjg2tvUOl/CtT/laWM2Lc982YNc/Ttx8Xtg5UOW6UQhItiV
rfVb5ZeP1atsGAzmVttLtv
---- END SSH2 PUBLIC KEY ----
$k$),
('rfc4716_ed25519', $k$---- BEGIN SSH2 PUBLIC KEY ----
Comment: "256-bit ED25519, test key"
AAAAC3NzaC1lZDI1NTE5AAAAIHabwJVc1CxhSySBpmwvCbHlWFozpCyNMysD9Yz8lUmc
---- END SSH2 PUBLIC KEY ----
$k$);
CREATE FUNCTION ak(name text) RETURNS text LANGUAGE sql STABLE
AS $$ SELECT key FROM audit_keys WHERE audit_keys.name = ak.name $$;

-- The body of a PEM block: bare base64, as identity providers display keys.
CREATE FUNCTION pem_body(pem text, one_line boolean DEFAULT true) RETURNS text LANGUAGE sql IMMUTABLE
AS $$ SELECT CASE WHEN one_line THEN replace(b, E'\n', '') ELSE b END
      FROM trim(regexp_replace(pem, '-----(BEGIN|END) [A-Z0-9 ]+-----', '', 'g'), E'\n') AS b $$;

-- An Ed25519 or Ed448 public key, as a JWK, from the hex of its encoding.
CREATE FUNCTION okp_jwk(crv text, x_hex text) RETURNS text LANGUAGE sql IMMUTABLE
AS $$ SELECT json_build_object('kty', 'OKP', 'crv', crv, 'x', b64u(decode(x_hex, 'hex')))::text $$;

-- The same as SubjectPublicKeyInfo PEM.
CREATE FUNCTION okp_pem(crv text, x_hex text) RETURNS text LANGUAGE sql IMMUTABLE
AS $$ SELECT E'-----BEGIN PUBLIC KEY-----\n'
          || replace(encode(decode(CASE crv WHEN 'Ed25519' THEN '302a300506032b6570032100'
                                            ELSE '3043300506032b6571033a00' END || x_hex, 'hex'), 'base64'), E'\n', '')
          || E'\n-----END PUBLIC KEY-----\n' $$;

-- Run a statement: 'ok', or SQLSTATE, message and detail.
CREATE FUNCTION try_detail(q text) RETURNS text LANGUAGE plpgsql
AS $$
DECLARE
    msg text;
    det text;
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
    RETURN SQLSTATE || ': ' || msg || CASE WHEN det <> '' THEN ' / ' || det ELSE '' END;
END $$;

-- Everything an error shows (message, detail, hint, context): to look for quoted key bytes.
CREATE FUNCTION error_text(q text) RETURNS text LANGUAGE plpgsql
AS $$
DECLARE
    msg text;
    det text;
    hnt text;
BEGIN
    EXECUTE q;
    RETURN '';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
    RETURN SQLSTATE || ' ' || msg || ' ' || det || ' ' || hnt;
END $$;

-- ---------------------------------------------------------------------------------------------
-- Item 6: RS->HS key confusion through other public-key spellings (the PyJWT CVE-2022-29217
-- pattern).  The verifier is configured with a public key as text; the attacker HMACs a token
-- with that same text.  PEM and JWK were already refused as secrets; OpenSSH, RFC 4716 and bare
-- base64 DER (SPKI, PKCS#1, PKCS#8, SEC1, an x5c certificate) became HMAC secrets and verified.
-- Each must be refused (22023) to verify and to sign, as text and as bytea.
CREATE TABLE spellings (name text, key text);
INSERT INTO spellings VALUES
  ('OpenSSH ssh-rsa', ak('ssh_rsa')),
  ('OpenSSH ssh-rsa with comment', ak('ssh_rsa') || ' alice@example.org'),
  ('OpenSSH ssh-ed25519', ak('ssh_ed25519')),
  ('OpenSSH ecdsa-sha2-nistp256', ak('ssh_ecdsa')),
  ('authorized_keys line with options', 'from="10.0.0.1",no-pty ' || ak('ssh_ed25519') || E' bob\n'),
  ('RFC 4716 RSA', ak('rfc4716_rsa')),
  ('RFC 4716 Ed25519', ak('rfc4716_ed25519')),
  ('base64 SPKI RSA, one line', pem_body(k('rsa_pub'))),
  ('base64 SPKI RSA, wrapped', pem_body(k('rsa_pub'), false)),
  ('base64url SPKI RSA', translate(pem_body(k('rsa_pub')), '+/=', '-_')),
  ('base64 SPKI P-256', pem_body(k('ec_p256_pub'))),
  ('base64 SPKI Ed25519', pem_body(k('ed25519_pub'))),
  ('base64 PKCS#1 RSA public', pem_body(k('rsa_pub_pkcs1'))),
  ('base64 PKCS#8 RSA private', pem_body(k('rsa'))),
  ('base64 SEC1 EC private', pem_body(k('ec_p256_sec1'))),
  ('base64 DER certificate (x5c)', pem_body(k('ed25519_cert')));
SELECT name,
       outcome(forge('{"alg":"HS256","typ":"JWT"}', '{"sub":"admin","exp":1900000000}', key), key) AS verify_text,
       try(format('SELECT jwt_verify(%L, %L::bytea)',
                  forge('{"alg":"HS256","typ":"JWT"}', '{"sub":"admin","exp":1900000000}', key),
                  convert_to(key, 'UTF8'))) AS verify_bytea,
       try(format('SELECT jwt_sign(''{}'', %L, ''HS256'')', key)) = try(format('SELECT jwt_sign(''{}'', %L::bytea, ''HS256'')', convert_to(key, 'UTF8'))) AS sign_same
FROM spellings ORDER BY name;
SELECT try_detail(format('SELECT jwt_sign(''{}'', %L, ''HS256'')', ak('ssh_ed25519'))) AS sign_ssh,
       try_detail(format('SELECT jwt_sign(''{}'', %L::bytea, ''HS512'')', convert_to(pem_body(k('rsa_pub')), 'UTF8'))) AS sign_der_bytea;
-- the keyring: jwt_add_key and a JWK "oct" whose k is a key
SELECT try(format('SELECT jwt_add_key(%L)', ak('ssh_rsa'))) AS add_key_ssh,
       try(format('SELECT jwt_add_key(%L)', pem_body(k('rsa_pub')))) AS add_key_der,
       try(format('SELECT jwt_verify(''a.b.c'', %L)',
                  json_build_object('kty', 'oct', 'k', b64u(k('rsa_pub'))))) AS oct_k_is_pem;
-- Legitimate secrets that look a little like keys stay secrets.
SELECT name, outcome(forge('{"alg":"HS256"}', '{"sub":"u","exp":1900000000}', secret), secret) AS verifies
FROM (VALUES
  ('base64 secret starting with M', 'MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY='),
  ('base64 of DER-like garbage', 'MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAAAAAAAAAAAAAAAAAAAAA'),
  ('words ssh-rsa without a blob', 'rotate the ssh-rsa host key and this secret 2026'),
  ('hex secret', encode(sha256('secret'), 'hex')),
  ('four dashes, no SSH2', '---- BEGIN SECRET ---- 0123456789abcdef0123')
) AS s(name, secret);

-- ---------------------------------------------------------------------------------------------
-- Item 7: small-order EdDSA public keys allow universal forgery.  With the identity point
-- (x = 01 00..00) as the key, R = identity and S = 0 satisfy [S]B = R + [k]A for every message:
-- a constant signature verified over any payload, and after jwt_import_jwks it authenticated as
-- anyone.  Every key with a small-order or non-canonical point is refused (22023).
SELECT outcome(b64u('{"alg":"EdDSA"}') || '.' || b64u('{"sub":"admin","exp":1900000000}') || '.'
               || b64u(decode('01' || repeat('00', 63), 'hex')),
               okp_jwk('Ed25519', '01' || repeat('00', 31))) AS identity_key_forgery;
-- The eight Ed25519 points of order 1, 2, 4 and 8, and non-canonical spellings (y >= p, or
-- x = 0 with its sign bit set), as JWK and as PEM.
SELECT name, try_detail(format('SELECT jwt_verify(''a.b.c'', %L)', okp_jwk('Ed25519', x))) AS jwk,
       try(format('SELECT jwt_verify(''a.b.c'', %L)', okp_pem('Ed25519', x))) AS pem
FROM (VALUES
  ('identity (order 1)', '0100000000000000000000000000000000000000000000000000000000000000'),
  ('order 2', 'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'),
  ('order 4', '0000000000000000000000000000000000000000000000000000000000000000'),
  ('order 4, other sign', '0000000000000000000000000000000000000000000000000000000000000080'),
  ('order 8', '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05'),
  ('order 8, other sign', '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85'),
  ('order 8, second y', 'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a'),
  ('order 8, second y, other sign', 'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa'),
  ('y = p (0 spelled + p)', 'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'),
  ('y = p + 1 (identity + p)', 'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'),
  ('identity with x sign bit', '0100000000000000000000000000000000000000000000000000000000000080'),
  ('y = 2^255 - 1', 'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'),
  ('not on the curve (y = 2)', '0200000000000000000000000000000000000000000000000000000000000000')
) AS v(name, x);
-- Ed448 (cofactor 4): identity, order 2, order 4, and y >= p.
SELECT name, try_detail(format('SELECT jwt_verify(''a.b.c'', %L)', okp_jwk('Ed448', x))) AS jwk,
       try(format('SELECT jwt_verify(''a.b.c'', %L)', okp_pem('Ed448', x))) AS pem
FROM (VALUES
  ('identity (order 1)', '01' || repeat('00', 56)),
  ('order 2', 'fe' || repeat('ff', 27) || 'fe' || repeat('ff', 27) || '00'),
  ('order 4', repeat('00', 57)),
  ('order 4, other sign', repeat('00', 56) || '80'),
  ('y = p (0 spelled + p)', 'ff' || repeat('ff', 27) || 'fe' || repeat('ff', 27) || '00'),
  ('bits 448-454 set', '01' || repeat('00', 55) || '01')
) AS v(name, x);
-- Valid keys still work.
SELECT outcome(jwt_sign('{"sub":"u","exp":1900000000}', k('ed25519'), 'EdDSA'), k('ed25519_pub_jwk')) AS ed25519_ok,
       outcome(jwt_sign('{"sub":"u","exp":1900000000}', k('ed448'), 'EdDSA'), k('ed448_pub_jwk')) AS ed448_ok;
-- x and d of the wrong length are refused, never zero-padded.
SELECT name, try_detail(format('SELECT jwt_verify(''a.b.c'', %L)', jwk)) AS result
FROM (VALUES
  ('Ed25519 x of 31 bytes', okp_jwk('Ed25519', substr('769bc0955cd4614b2481a66c2f09b1e5585a33a42c8d332b03f58cfc95499c', 1, 62))),
  ('Ed25519 x of 33 bytes', okp_jwk('Ed25519', '00' || encode(unb64u(k('ed25519_pub_jwk')::json->>'x'), 'hex'))),
  ('Ed25519 d of 31 bytes', (k('ed25519_jwk')::jsonb || jsonb_build_object('d', b64u(substr(unb64u(k('ed25519_jwk')::json->>'d'), 2))))::text),
  ('Ed448 x of 56 bytes', okp_jwk('Ed448', encode(substr(unb64u(k('ed448_pub_jwk')::json->>'x'), 2), 'hex')))
) AS v(name, jwk);
-- Everywhere a key is read: the keyring (jwt_add_key, jwt_import_jwks) refuses them too.
SELECT try(format('SELECT jwt_add_key(%L)', okp_jwk('Ed25519', '01' || repeat('00', 31)))) AS add_key,
       try(format('SELECT jwt_add_key(%L)', okp_pem('Ed25519', 'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'))) AS add_key_pem,
       try(format('SELECT jwt_import_jwks(%L)', jsonb_build_object('keys', jsonb_build_array(
           okp_jwk('Ed25519', '01' || repeat('00', 31))::jsonb || '{"kid":"forger"}')))) AS import_jwks,
       (SELECT count(*) FROM jwt_keys WHERE kid = 'forger') AS imported;
-- and a JWKS given to jwt_verify
SELECT outcome(b64u('{"alg":"EdDSA","kid":"a"}') || '.' || b64u('{"sub":"admin","exp":1900000000}') || '.'
               || b64u(decode('01' || repeat('00', 63), 'hex')),
               jsonb_build_object('keys', jsonb_build_array(k('ed25519_pub_jwk')::jsonb || '{"kid":"b"}',
                   okp_jwk('Ed25519', '01' || repeat('00', 31))::jsonb || '{"kid":"a"}'))::text) AS jwks_with_identity;

-- ---------------------------------------------------------------------------------------------
-- Item 8: JWK "key_ops" was ignored: a key published for ["encrypt"] verified signatures.
-- RFC 7517: a key verifies only when "use" is absent or "sig" and "key_ops" is absent or lists
-- "verify" (signing: "sign").  Alone, a key for neither is refused like "use":"enc" (22023);
-- in a JWKS it is skipped like one; a key for the other operation is refused with 28J07.
CREATE TABLE ops_tokens AS
SELECT jwt_sign('{"sub":"u","exp":1900000000}', k('ec256_jwk'), 'ES256') AS es,
       jwt_sign('{"sub":"u","exp":1900000000}', k('ec256_jwk'), 'ES256', '{"kid":"e1"}') AS es_kid;
SELECT name, (SELECT outcome(es, jwk) FROM ops_tokens) AS verify
FROM (VALUES
  ('key_ops encrypt', (k('ec256_pub_jwk')::jsonb || '{"key_ops":["encrypt"]}')::text),
  ('key_ops wrapKey, deriveKey', (k('ec256_pub_jwk')::jsonb || '{"key_ops":["wrapKey","deriveKey"]}')::text),
  ('key_ops empty', (k('ec256_pub_jwk')::jsonb || '{"key_ops":[]}')::text),
  ('key_ops sign (public key)', (k('ec256_pub_jwk')::jsonb || '{"key_ops":["sign"]}')::text),
  ('use sig, key_ops encrypt', (k('ec256_pub_jwk')::jsonb || '{"use":"sig","key_ops":["encrypt"]}')::text),
  ('use enc (unchanged)', (k('ec256_pub_jwk')::jsonb || '{"use":"enc"}')::text),
  ('key_ops not an array', (k('ec256_pub_jwk')::jsonb || '{"key_ops":"verify"}')::text),
  ('key_ops with a number', (k('ec256_pub_jwk')::jsonb || '{"key_ops":["verify",1]}')::text),
  ('key_ops duplicate', (k('ec256_pub_jwk')::jsonb || '{"key_ops":["verify","verify"]}')::text),
  ('key_ops verify', (k('ec256_pub_jwk')::jsonb || '{"key_ops":["verify"]}')::text),
  ('key_ops sign, verify', (k('ec256_pub_jwk')::jsonb || '{"key_ops":["sign","verify"]}')::text),
  ('use sig, key_ops verify', (k('ec256_pub_jwk')::jsonb || '{"use":"sig","key_ops":["verify"]}')::text),
  ('no key_ops', k('ec256_pub_jwk'))
) AS v(name, jwk);
-- signing: a private key listing only "verify" does not sign; one listing "sign" does
SELECT try(format('SELECT jwt_sign(''{}'', %L)', k('ec256_jwk')::jsonb || '{"key_ops":["verify"]}')) AS sign_verify_only,
       try(format('SELECT jwt_sign(''{}'', %L)', k('ec256_jwk')::jsonb || '{"key_ops":["sign"]}')) AS sign_sign_only,
       try(format('SELECT jwt_sign(''{}'', %L)', k('ec256_jwk')::jsonb || '{"key_ops":["encrypt"]}')) AS sign_encrypt;
-- in a JWKS: an encryption key is skipped; a signing-only key is not chosen for a token without
-- kid, and refused by kid
SELECT (SELECT outcome(es, jsonb_build_object('keys', jsonb_build_array(
           k('ec256_pub_jwk')::jsonb || '{"kid":"e1","key_ops":["encrypt"]}'))::text) FROM ops_tokens) AS only_encrypt_key,
       (SELECT outcome(es, jsonb_build_object('keys', jsonb_build_array(
           k('ec256_pub_jwk')::jsonb || '{"kid":"e1","key_ops":["encrypt"]}',
           k('ec256_pub_jwk')::jsonb || '{"kid":"e2"}'))::text) FROM ops_tokens) AS encrypt_key_skipped,
       (SELECT outcome(es, jsonb_build_object('keys', jsonb_build_array(
           k('ec256_pub_jwk')::jsonb || '{"kid":"e1","key_ops":["sign"]}'))::text) FROM ops_tokens) AS sign_only_no_kid,
       (SELECT outcome(es_kid, jsonb_build_object('keys', jsonb_build_array(
           k('ec256_pub_jwk')::jsonb || '{"kid":"e1","key_ops":["sign"]}'))::text) FROM ops_tokens) AS sign_only_by_kid,
       (SELECT outcome(es_kid, jsonb_build_object('keys', jsonb_build_array(
           k('ec256_pub_jwk')::jsonb || '{"kid":"e1","key_ops":["verify"]}'))::text) FROM ops_tokens) AS verify_by_kid;
DROP TABLE ops_tokens;

-- ---------------------------------------------------------------------------------------------
-- Item 9: RSA moduli with the ROCA fingerprint (CVE-2017-15361) were accepted.  roca_* is a
-- real, consistent 2048-bit key whose primes have the form k*M + (65537^a mod M); it is refused
-- as a private JWK, a public JWK and a PEM, and by the keyring.  An ordinary key still works.
SELECT name, try_detail(format('SELECT jwt_verify(''a.b.c'', %L)', ak(name))) AS result
FROM (VALUES ('roca_jwk'), ('roca_pub_jwk'), ('roca_pub')) AS v(name);
SELECT try(format('SELECT jwt_add_key(%L)', ak('roca_jwk'))) AS add_key,
       try(format('SELECT jwt_import_jwks(%L)', jsonb_build_object('keys', jsonb_build_array(ak('roca_pub_jwk')::jsonb)))) AS import_jwks,
       outcome(jwt_sign('{"sub":"u","exp":1900000000}', k('rsa'), 'RS256'), k('rsa_pub')) AS ordinary_key;

-- ---------------------------------------------------------------------------------------------
-- Item 10: uncancellable work.  A JWKS of large RSA keys ran past statement_timeout and ignored
-- pg_cancel_backend, and duplicate-kid detection was quadratic.  A key set has at most 100 keys
-- (54000 beyond), RSA moduli at most 8192 bits, and parsing a set checks for interrupts.
SELECT try_detail(format('SELECT jwt_verify(''a.b.c'', %L)', jsonb_build_object('keys',
           (SELECT jsonb_agg(k('ec256_pub_jwk')::jsonb || jsonb_build_object('kid', i::text)) FROM generate_series(1, 101) i)))) AS jwks_101_keys,
       try(format('SELECT jwt_verify(''a.b.c'', %L)', jsonb_build_object('keys',
           (SELECT jsonb_agg(k('ec256_pub_jwk')::jsonb || jsonb_build_object('kid', i::text)) FROM generate_series(1, 100) i)))) AS jwks_100_keys,
       try_detail(format('SELECT jwt_verify(''a.b.c'', %L)', jsonb_build_object('keys',
           (SELECT jsonb_agg(k('ec256_pub_jwk')::jsonb || jsonb_build_object('kid', CASE i WHEN 97 THEN '3' ELSE i::text END))
            FROM generate_series(1, 100) i)))) AS duplicate_kid;
-- A big but allowed set (100 8192-bit RSA keys, about 13 s of key checks) stops at
-- statement_timeout.  These timed checks compare work done against work skipped, with a
-- margin of several times either way, so that a loaded machine cannot flip them.
CREATE TABLE slow_jwks AS SELECT jsonb_build_object('keys',
    (SELECT jsonb_agg(ak('rsa8192_pub_jwk')::jsonb || jsonb_build_object('kid', i::text)) FROM generate_series(1, 100) i))::text AS jwks;
CREATE FUNCTION try_cancel(q text) RETURNS text LANGUAGE plpgsql
AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN query_canceled THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
CREATE TABLE timing (t0 timestamptz);
INSERT INTO timing VALUES (clock_timestamp());
SET statement_timeout = '200ms';
SELECT try_cancel((SELECT format('SELECT jwt_verify(''a.b.c'', %L)', jwks) FROM slow_jwks)) AS big_jwks;
RESET statement_timeout;
SELECT clock_timestamp() - t0 < interval '4 s' AS cancelled_promptly FROM timing;
DROP TABLE slow_jwks, timing;
DROP FUNCTION try_cancel(text);
-- A failed parse is not a free CPU amplifier.  OpenSSL's checks (a primality test of each
-- modulus, about 0.13 s at 8192 bits) run only once every cheaper check of every key has passed:
-- 99 such keys (13 s of checks) and a 100th with e = 3 fail at once.
CREATE TABLE bad_jwks AS SELECT jsonb_build_object('keys',
    (SELECT jsonb_agg(ak('rsa8192_pub_jwk')::jsonb || jsonb_build_object('kid', i::text)) FROM generate_series(1, 99) i)
    || jsonb_build_array(k('rsa_pub_jwk')::jsonb || '{"kid":"100","e":"Aw"}'))::text AS jwks;
CREATE TABLE timing (t0 timestamptz);
INSERT INTO timing VALUES (clock_timestamp());
SELECT try_detail(format('SELECT jwt_verify(''a.b.c'', %L)', jwks)) AS cheap_failure_last FROM bad_jwks;
SELECT clock_timestamp() - t0 < interval '3 s' AS failed_before_the_checks FROM timing;
DROP TABLE bad_jwks, timing;
-- A set that fails in those checks (20 8192-bit keys, 2.6 s of checks, then an even modulus)
-- fails once; the same bytes again fail from the cache, without the checks.
CREATE TABLE bad_jwks AS SELECT jsonb_build_object('keys',
    (SELECT jsonb_agg(ak('rsa8192_pub_jwk')::jsonb || jsonb_build_object('kid', i::text)) FROM generate_series(1, 20) i)
    || jsonb_build_array(k('rsa_pub_jwk')::jsonb || jsonb_build_object('kid', '21', 'n',
           b64u(overlay(unb64u(k('rsa_pub_jwk')::json->>'n') PLACING '\x00'::bytea FROM 256)))))::text AS jwks;
SELECT try_detail(format('SELECT jwt_verify(''a.b.c'', %L)', jwks)) AS first_call FROM bad_jwks;
CREATE TABLE timing (t0 timestamptz);
INSERT INTO timing VALUES (clock_timestamp());
SELECT try_detail(format('SELECT jwt_verify(''a.b.c'', %L)', jwks)) AS second_call FROM bad_jwks;
SELECT clock_timestamp() - t0 < interval '0.6 s' AS second_call_cached FROM timing;
DROP TABLE bad_jwks, timing;

-- ---------------------------------------------------------------------------------------------
-- Item 11: the key cache pinned unbounded memory (three 100 MB secrets held 600 MB).  Key text
-- over 256 kB is not cached, and the cache is bounded in bytes.  Three 1 MB secrets verify and
-- leave nothing behind.
SELECT i, outcome(forge('{"alg":"HS256"}', '{"sub":"u","exp":1900000000}', s), s) AS verifies
FROM generate_series(1, 3) i, LATERAL (SELECT repeat(md5(i::text), 32768) AS s) AS big;
SELECT coalesce(sum(total_bytes), 0) < 1024 * 1024 AS cache_small,
       count(*) FILTER (WHERE name = 'jwt key (uncached)') AS uncached_left
FROM pg_backend_memory_contexts WHERE name LIKE 'jwt key%';

-- ---------------------------------------------------------------------------------------------
-- Item 13: private key bytes in an error message.  A PEM whose BEGIN line lacks its trailing
-- dashes echoed 40 characters of the base64 body (11 bytes of an EC private scalar).  No message
-- quotes key material: only fixed labels from a known list, or nothing.
CREATE TABLE leaky (name text, key text);
INSERT INTO leaky VALUES
  ('BEGIN line without dashes', replace(k('ec_p256'), E'-----BEGIN PRIVATE KEY-----', '-----BEGIN PRIVATE KEY')),
  ('BEGIN line with body on it', replace(k('ec_p256'), E'PRIVATE KEY-----\n', 'PRIVATE KEY ')),
  ('unknown label', replace(replace(k('ec_p256'), 'BEGIN PRIVATE KEY', 'BEGIN ' || substr(pem_body(k('ec_p256')), 20, 30)), 'END PRIVATE KEY', 'END X')),
  ('known label', E'-----BEGIN DH PARAMETERS-----\nMAA=\n-----END DH PARAMETERS-----\n'),
  ('curve name is key bytes', json_build_object('kty', 'EC', 'crv', substr(pem_body(k('ec_p256')), 40, 40), 'x', 'AA', 'y', 'AA')::text),
  ('kty is key bytes', json_build_object('kty', substr(pem_body(k('ec_p256')), 40, 40))::text),
  ('alg is key bytes', (k('ec256_pub_jwk')::jsonb || jsonb_build_object('alg', substr(pem_body(k('ec_p256')), 40, 40)))::text),
  ('OKP curve is key bytes', json_build_object('kty', 'OKP', 'crv', substr(pem_body(k('ec_p256')), 40, 40), 'x', 'AA')::text),
  ('duplicate kid is key bytes', jsonb_build_object('keys', jsonb_build_array(
      k('ec256_pub_jwk')::jsonb || jsonb_build_object('kid', substr(pem_body(k('ec_p256')), 40, 40)),
      k('ec256_pub_jwk')::jsonb || jsonb_build_object('kid', substr(pem_body(k('ec_p256')), 40, 40))))::text);
SELECT name, try_detail(format('SELECT jwt_verify(''a.b.c'', %L)', key)) AS error,
       position(substr(pem_body(k('ec_p256')), 40, 12) IN error_text(format('SELECT jwt_verify(''a.b.c'', %L)', key))) = 0
       AND position(substr(pem_body(k('ec_p256')), 20, 12) IN error_text(format('SELECT jwt_verify(''a.b.c'', %L)', key))) = 0 AS no_key_bytes
FROM leaky;
DROP TABLE leaky;

-- ---------------------------------------------------------------------------------------------
-- Item 21: RSA public exponents had no upper bound: a 2046-bit e made each verification 85x
-- slower.  e must be odd and 2^16 < e < 2^256 (NIST SP 800-56B) for every RSA key read; the
-- modulus is bounded too (8192 bits).
SELECT name, try_detail(format('SELECT jwt_verify(''a.b.c'', %L)', key)) AS result
FROM (VALUES
  ('PEM, e = 3', ak('e3_pub')),
  ('PEM, e of 2046 bits', ak('big_e_pub')),
  ('JWK, e = 3', (k('rsa_pub_jwk')::jsonb || '{"e":"Aw"}')::text),
  ('JWK, e = 65535', (k('rsa_pub_jwk')::jsonb || '{"e":"__8"}')::text),
  ('JWK, e = 65536 (even)', (k('rsa_pub_jwk')::jsonb || '{"e":"AQAA"}')::text),
  ('JWK, e = 2^256 + 1', (k('rsa_pub_jwk')::jsonb || jsonb_build_object('e', b64u(decode('01' || repeat('00', 31) || '01', 'hex'))))::text),
  ('JWK, e of 2046 bits', (k('rsa_pub_jwk')::jsonb || jsonb_build_object('e', b64u(decode('20' || repeat('00', 254) || '01', 'hex'))))::text),
  ('JWK, e = 65537', k('rsa_pub_jwk')),
  ('PEM, 9000-bit modulus', ak('big_n_pub')),
  ('JWK, 9000-bit modulus', (k('rsa_pub_jwk')::jsonb || jsonb_build_object('n', b64u(decode('80' || repeat('ab', 1124) || '01', 'hex'))))::text),
  ('JWK, 8192-bit modulus', ak('rsa8192_pub_jwk'))
) AS v(name, key);

DROP TABLE spellings;
DROP FUNCTION ak(text), pem_body(text, boolean), okp_jwk(text, text), okp_pem(text, text), try_detail(text), error_text(text);
DROP TABLE audit_keys;
