-- Test keys, made once with openssl genpkey/pkey/rsa/ec/req (RSA 2048 and 1024,
-- P-256, P-384, P-521, secp256k1, Ed25519, Ed448, RSA-PSS, X25519) and PyJWT's to_jwk.
-- They protect nothing: they exist only for these tests.
CREATE TABLE test_keys (name text PRIMARY KEY, key text NOT NULL);
INSERT INTO test_keys VALUES
('rsa', $k$-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC4B4VvdDWUjY+r
shs7LVdK1xkLjOPNBNGKEveV0CNAyBKhwWO2v+N3863mrEzCz0gNqOdFNw3sS4y2
bw8WQNpgn7HCQzKm0aOtN+Y286KjaCIX9Ol+u2NirCQX+iBuqGsyHlRJDEHQW6q4
NgU+GB+8760AeI0TYRTgxpOQf+ZojvjK7pB5yeeoQCyVPJr3OC3uq/TgBF7dcO0/
tyQ0BqnVRz2XpTH1tzMoJ1fZtRE1NCTukDCz0WXe1AbA3nLY5BkO79JovS3QYvtP
d2Prjg2tvUOl/CtT/laWM2Lc982YNc/Ttx8Xtg5UOW6UQhItiVrfVb5ZeP1atsGA
zmVttLtvAgMBAAECggEABu1pjXd/aNcnWFw9AC5FwfB05eVo0dfjl2H9ZetO2Gpv
oR0phsCUbHiEzFEiFpc87B62jflzkbiKVHe7xqesUMTSKTDkYDk2Axg+l0T2k1Yh
Kmuyum2NYTJ/rVNiEyhN2LYhkBphA9nfhE2sRtkboL4Y8hKXpOobohZ3iZH292qS
BXsIiR2WuPNgbYiCCnlrLOJA9bqwN71eXSCFR7jSVjKk/ZybIbEMyDUDSSkkM8yk
+kwFS2dOOFoPYQc7v2hJ7/lffgMMyNUqI7fSP9FjgJn5Iby38vs3fQ5mm63s7ltR
1UHsElWHRl+uyLOWrAI46B4/7RxTq9w8QugWNQko0QKBgQDa8tqjJvWialyS8W0a
bTssmthiM+gGvFdMSkEqV2N9Ce+OM8giigQtVqjmzY3EHY6Z17z/3Iwgdqu24vMI
VEj01oxWjmnSn+Pg+yjURzvHcqX3rnpgrBCDrefvwcV6VSzPVzzcp1hRMflEmETn
QfXkM6Z9yxFvBJnbobTCKc2eFwKBgQDXK+sKQoZAnrIqnZdNlwP+foj6jC+mo3pU
2BsinkLe3HdrSmDFTFeNazK+BtEicvrdfQnQ6eMKSy03k1lvbrTxwskGqCYHqr4Y
Dv4klsPedktQJc3InJnTS010whtUKp+NWH6v/kLMmwsEe8tsVkMnkBDKiFwPaBMh
hjyzO6q8aQKBgQCVOa4QQs5pmuprcEa3GzmYhhTyoYQDizxIj9doP1VcdHgkSGCg
QcblC8pkPDbiMm7tpZ94F14eBiO0q2uPArsSvGO73qZ7WmRbA3Npcv9oSViavf1E
hCFhThblTwEEBqdazY96qEfGVzQYL1vO7iLkHNvdopjIPK+MhOMI7qrokwKBgEMb
13qjtOuCk17nN8FjUEOXg3FhN5tpcUX1AMGTSpfnevdjgzsFzGi2/mR2C9QKuGNM
FDusNruHJtsmgcZXaOfeMIR6/SF3B0LJqkoPG5fOnT6qC7x92xwjaEz6HTvq70hO
SXTqgDsAQDdtxMxNOzSjohkI3m2PsCfMjjH4cg/BAoGAYAqu7xpXYFq1Px48KhJQ
x5VF1puGL5dVpUcf8e3OjeDfV1imkyCeYe3xhAGkVJFuBX6qPd7yGWYk3dQs0IzV
RcDBTogxl/GQy4MwrZNhlrqxvAwgGwDlSAWzbBOlHBXDLig3N1BAgrtD3QzH2fV0
4XbpylNBwDqZg6FB5ovcej0=
-----END PRIVATE KEY-----
$k$),
('rsa_pub', $k$-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAuAeFb3Q1lI2Pq7IbOy1X
StcZC4zjzQTRihL3ldAjQMgSocFjtr/jd/Ot5qxMws9IDajnRTcN7EuMtm8PFkDa
YJ+xwkMyptGjrTfmNvOio2giF/TpfrtjYqwkF/ogbqhrMh5USQxB0FuquDYFPhgf
vO+tAHiNE2EU4MaTkH/maI74yu6QecnnqEAslTya9zgt7qv04ARe3XDtP7ckNAap
1Uc9l6Ux9bczKCdX2bURNTQk7pAws9Fl3tQGwN5y2OQZDu/SaL0t0GL7T3dj644N
rb1DpfwrU/5WljNi3PfNmDXP07cfF7YOVDlulEISLYla31W+WXj9WrbBgM5lbbS7
bwIDAQAB
-----END PUBLIC KEY-----
$k$),
('rsa_pkcs1', $k$-----BEGIN RSA PRIVATE KEY-----
MIIEowIBAAKCAQEAuAeFb3Q1lI2Pq7IbOy1XStcZC4zjzQTRihL3ldAjQMgSocFj
tr/jd/Ot5qxMws9IDajnRTcN7EuMtm8PFkDaYJ+xwkMyptGjrTfmNvOio2giF/Tp
frtjYqwkF/ogbqhrMh5USQxB0FuquDYFPhgfvO+tAHiNE2EU4MaTkH/maI74yu6Q
ecnnqEAslTya9zgt7qv04ARe3XDtP7ckNAap1Uc9l6Ux9bczKCdX2bURNTQk7pAw
s9Fl3tQGwN5y2OQZDu/SaL0t0GL7T3dj644Nrb1DpfwrU/5WljNi3PfNmDXP07cf
F7YOVDlulEISLYla31W+WXj9WrbBgM5lbbS7bwIDAQABAoIBAAbtaY13f2jXJ1hc
PQAuRcHwdOXlaNHX45dh/WXrTthqb6EdKYbAlGx4hMxRIhaXPOweto35c5G4ilR3
u8anrFDE0ikw5GA5NgMYPpdE9pNWISprsrptjWEyf61TYhMoTdi2IZAaYQPZ34RN
rEbZG6C+GPISl6TqG6IWd4mR9vdqkgV7CIkdlrjzYG2Iggp5ayziQPW6sDe9Xl0g
hUe40lYypP2cmyGxDMg1A0kpJDPMpPpMBUtnTjhaD2EHO79oSe/5X34DDMjVKiO3
0j/RY4CZ+SG8t/L7N30OZput7O5bUdVB7BJVh0ZfrsizlqwCOOgeP+0cU6vcPELo
FjUJKNECgYEA2vLaoyb1ompckvFtGm07LJrYYjPoBrxXTEpBKldjfQnvjjPIIooE
LVao5s2NxB2Omde8/9yMIHartuLzCFRI9NaMVo5p0p/j4Pso1Ec7x3Kl9656YKwQ
g63n78HFelUsz1c83KdYUTH5RJhE50H15DOmfcsRbwSZ26G0winNnhcCgYEA1yvr
CkKGQJ6yKp2XTZcD/n6I+owvpqN6VNgbIp5C3tx3a0pgxUxXjWsyvgbRInL63X0J
0OnjCkstN5NZb2608cLJBqgmB6q+GA7+JJbD3nZLUCXNyJyZ00tNdMIbVCqfjVh+
r/5CzJsLBHvLbFZDJ5AQyohcD2gTIYY8szuqvGkCgYEAlTmuEELOaZrqa3BGtxs5
mIYU8qGEA4s8SI/XaD9VXHR4JEhgoEHG5QvKZDw24jJu7aWfeBdeHgYjtKtrjwK7
Erxju96me1pkWwNzaXL/aElYmr39RIQhYU4W5U8BBAanWs2PeqhHxlc0GC9bzu4i
5Bzb3aKYyDyvjITjCO6q6JMCgYBDG9d6o7TrgpNe5zfBY1BDl4NxYTebaXFF9QDB
k0qX53r3Y4M7Bcxotv5kdgvUCrhjTBQ7rDa7hybbJoHGV2jn3jCEev0hdwdCyapK
DxuXzp0+qgu8fdscI2hM+h076u9ITkl06oA7AEA3bcTMTTs0o6IZCN5tj7AnzI4x
+HIPwQKBgGAKru8aV2BatT8ePCoSUMeVRdabhi+XVaVHH/Htzo3g31dYppMgnmHt
8YQBpFSRbgV+qj3e8hlmJN3ULNCM1UXAwU6IMZfxkMuDMK2TYZa6sbwMIBsA5UgF
s2wTpRwVwy4oNzdQQIK7Q90Mx9n1dOF26cpTQcA6mYOhQeaL3Ho9
-----END RSA PRIVATE KEY-----
$k$),
('rsa_pub_pkcs1', $k$-----BEGIN RSA PUBLIC KEY-----
MIIBCgKCAQEAuAeFb3Q1lI2Pq7IbOy1XStcZC4zjzQTRihL3ldAjQMgSocFjtr/j
d/Ot5qxMws9IDajnRTcN7EuMtm8PFkDaYJ+xwkMyptGjrTfmNvOio2giF/Tpfrtj
YqwkF/ogbqhrMh5USQxB0FuquDYFPhgfvO+tAHiNE2EU4MaTkH/maI74yu6Qecnn
qEAslTya9zgt7qv04ARe3XDtP7ckNAap1Uc9l6Ux9bczKCdX2bURNTQk7pAws9Fl
3tQGwN5y2OQZDu/SaL0t0GL7T3dj644Nrb1DpfwrU/5WljNi3PfNmDXP07cfF7YO
VDlulEISLYla31W+WXj9WrbBgM5lbbS7bwIDAQAB
-----END RSA PUBLIC KEY-----
$k$),
('rsa1024', $k$-----BEGIN PRIVATE KEY-----
MIICdQIBADANBgkqhkiG9w0BAQEFAASCAl8wggJbAgEAAoGBAMCN9MNfxy6tSLO7
rdxCsOqNpWqAncPNFNCzp7B6yTGsSEcCBb90o6XBwipRi+2DMWk3hcDzGLMgNPIz
WTvwaETNhyUBiWNxPZko35tS9CYeICfDfLI44LMSOTBLK1x7XcSz/WRpKBSyJ+fN
eY7iAwWBUNIA1MJ++1LQ9BG1qMO/AgMBAAECgYAkoRyFqgum+nnRDwvE0b7775Qf
DXZ1j+a8yOBGdyUc2Owq7dyQDi0vVAuOp1KaDRHyNQixqszxDlhkFpaMC3CaCV+Y
nbKdzJocfxdL5xzM6N3N6QUOPde52U7QKbgb8dyM4L4eJgZW7yodldfFxVDt6Ws0
ba07Z6dmt0B2gtEBiQJBAO3ElxM26ReLpeFVns5xxXVxBdTpO5n97Das3VcNgJIM
RA+P/W5eLSkYGUJ3ykS2M8B9V0/DBYZ9p7sAU0lDdGsCQQDPUdJiztfrl69eYJbt
LaHnJ7GIAiMr9N+uyl5mltp+wZVleDSbNmMz3UG4YVJW+gAM/C5jlITVHUstdcq3
uaL9AkAhzGQ9UvznX+6AjY85gWq0OxC9JzpVtYaybvg3u6+fEydJnwpDehepU8ej
byvNgKjyn96dc/eBGrORHYa5T2FpAkAJJGiMpuZqozO+i6/cIakEEoIHp2B5rcC3
aoEjMP/NmyfFY7meJpXVUap2QQRqhXe/GtfI2GHLLBGGna0k0PDZAkBEF/SSg9f4
ZH7QSx0jWWofMxLOMAipVRv5M0tAsuCbPDvjLOsy4ZaiCPNG+HlJKzyYhdeatEOo
hWghYBs/pgf4
-----END PRIVATE KEY-----
$k$),
('rsa1024_pub', $k$-----BEGIN PUBLIC KEY-----
MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDAjfTDX8curUizu63cQrDqjaVq
gJ3DzRTQs6eweskxrEhHAgW/dKOlwcIqUYvtgzFpN4XA8xizIDTyM1k78GhEzYcl
AYljcT2ZKN+bUvQmHiAnw3yyOOCzEjkwSytce13Es/1kaSgUsifnzXmO4gMFgVDS
ANTCfvtS0PQRtajDvwIDAQAB
-----END PUBLIC KEY-----
$k$),
('ec_p256', $k$-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgZKIWQPypybZQC3Eh
nhIW3BjY8WUwkNhoUt7AvAywVs+hRANCAAT8BKBAGg6bVFgiDKe1oR86MPOa8ltJ
1/SwJre6B+tv96Y1/HsBNOz4QPgOdsZjclt0ZfGBWBMCJmHD9tJB8mDx
-----END PRIVATE KEY-----
$k$),
('ec_p256_pub', $k$-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE/ASgQBoOm1RYIgyntaEfOjDzmvJb
Sdf0sCa3ugfrb/emNfx7ATTs+ED4DnbGY3JbdGXxgVgTAiZhw/bSQfJg8Q==
-----END PUBLIC KEY-----
$k$),
('ec_p256_sec1', $k$-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIGSiFkD8qcm2UAtxIZ4SFtwY2PFlMJDYaFLewLwMsFbPoAoGCCqGSM49
AwEHoUQDQgAE/ASgQBoOm1RYIgyntaEfOjDzmvJbSdf0sCa3ugfrb/emNfx7ATTs
+ED4DnbGY3JbdGXxgVgTAiZhw/bSQfJg8Q==
-----END EC PRIVATE KEY-----
$k$),
('ec_p384', $k$-----BEGIN PRIVATE KEY-----
MIG2AgEAMBAGByqGSM49AgEGBSuBBAAiBIGeMIGbAgEBBDD24QLjrwg3+dVRp756
TvdJHjK9GP5BzCkVl/q1Kcz+s7Tzgawj65XKOxqQFEleWKKhZANiAATAk1ITZny4
y17syyxjWrklZhV15Tzp0qkff2YgjqWH3RgzbZoU2P7AhQaK8C4ypJFkzuHe0Tr/
uwEwaqdIYeJpcX9zR15IUdkG3cbZY7lpCtHE8LW/BgDGIMDtsS4IgLY=
-----END PRIVATE KEY-----
$k$),
('ec_p384_pub', $k$-----BEGIN PUBLIC KEY-----
MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEwJNSE2Z8uMte7MssY1q5JWYVdeU86dKp
H39mII6lh90YM22aFNj+wIUGivAuMqSRZM7h3tE6/7sBMGqnSGHiaXF/c0deSFHZ
Bt3G2WO5aQrRxPC1vwYAxiDA7bEuCIC2
-----END PUBLIC KEY-----
$k$),
('ec_p521', $k$-----BEGIN PRIVATE KEY-----
MIHuAgEAMBAGByqGSM49AgEGBSuBBAAjBIHWMIHTAgEBBEIB4zRfvBDY5ZM1cDDj
dQkD1GyQC1tCEUH2KNYxeBBSIH25qaUaHcKiD9g3oPcbCX53PcMfAQwEuXoUxmBZ
xKWs6fWhgYkDgYYABAA0NoalyuarXqfV/q2siCwGaXwfpCDsA24umLi57a4lOcpb
m1GtXfTkRKXkwjfbw2XA62JQe9HOwUpAR6hvfu76pwHtji5ZvLcY4qTnyKYyNcFQ
hwSE0R88RtEZECxII+6l4Hr0ffMKyqnc0NdxTgIM3mEQRZW1SExy0smKge98us5r
Hw==
-----END PRIVATE KEY-----
$k$),
('ec_p521_pub', $k$-----BEGIN PUBLIC KEY-----
MIGbMBAGByqGSM49AgEGBSuBBAAjA4GGAAQANDaGpcrmq16n1f6trIgsBml8H6Qg
7ANuLpi4ue2uJTnKW5tRrV305ESl5MI328NlwOtiUHvRzsFKQEeob37u+qcB7Y4u
Wby3GOKk58imMjXBUIcEhNEfPEbRGRAsSCPupeB69H3zCsqp3NDXcU4CDN5hEEWV
tUhMctLJioHvfLrOax8=
-----END PUBLIC KEY-----
$k$),
('ec_secp256k1', $k$-----BEGIN PRIVATE KEY-----
MIGEAgEAMBAGByqGSM49AgEGBSuBBAAKBG0wawIBAQQgGB5gogWX37/pSD0aeua8
0ha9lXgdoe3+rFpjGsyWr9GhRANCAAT2jCwvcIVOpcSctDrDSiAaua1TM7XQUjzL
62Iv94KJEAMUuHX+1oxSgneSKDb2f64+TvL5R1XVLHM9OvR6hmsa
-----END PRIVATE KEY-----
$k$),
('ec_secp256k1_pub', $k$-----BEGIN PUBLIC KEY-----
MFYwEAYHKoZIzj0CAQYFK4EEAAoDQgAE9owsL3CFTqXEnLQ6w0ogGrmtUzO10FI8
y+tiL/eCiRADFLh1/taMUoJ3kig29n+uPk7y+UdV1SxzPTr0eoZrGg==
-----END PUBLIC KEY-----
$k$),
('ed25519', $k$-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIE2q2ZDJlCYOuRm8GFGs6s4uMkwgZKDJdyJuifdF1wG3
-----END PRIVATE KEY-----
$k$),
('ed25519_pub', $k$-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAdpvAlVzULGFLJIGmbC8JseVYWjOkLI0zKwP1jPyVSZw=
-----END PUBLIC KEY-----
$k$),
('ed448', $k$-----BEGIN PRIVATE KEY-----
MEcCAQAwBQYDK2VxBDsEOSW6NnG9UHtXDg2+7fPzupFrWhrSQW8F56GqP50er7Cx
AOU41Qhav0eubIy6EcjDv06I7El2dSnulw==
-----END PRIVATE KEY-----
$k$),
('ed448_pub', $k$-----BEGIN PUBLIC KEY-----
MEMwBQYDK2VxAzoAdQv6LAQysCvf8Nm86iL4qsWxkMSy3ds/YnMWX4AKlAU/3ffY
O0UB81g5b004sSHo7RFGp1MkuLuA
-----END PUBLIC KEY-----
$k$),
('rsapss', $k$-----BEGIN PRIVATE KEY-----
MIIEvAIBADALBgkqhkiG9w0BAQoEggSoMIIEpAIBAAKCAQEAy7hUAB+yRbFXl63j
jWab43LhlCrdo5DjoN6kVaLN1GaIMNVool9RSpeo7sivcgjaOPOCS9IdA5ctSfUP
19X9eENrTq2zOLki2hScnXXyMvjTTkkGgOCA4RCBbaEQ5yLjqi56bFNQqJguxkcQ
YaqX7xp6JVtwOjH8Qdcpod8BWHCbG1Jhb8yTn33VNs9KM7BkrZFpXF99WKw7J6y0
DVpK8r39OuOB52DHL9hccl01v4tSEq0EM/ejDD5m01at1zJtKou6f+ca8H5l44bu
lTmEqWhyldLrQgH1iNP8CSR4b4S+reXpejThvYWckrLtr5ize7SoSSTpLlXhgAVX
HgUXWwIDAQABAoIBAClMlwrnYhaq2x0OzYDO+m9jzMNi5UfRibQFLr+Fn8CdgKKV
wP6Z4DsE/+RYnui5TrQY+aMxV1xw+2dw3ONeqGIHGOv8XsbzEVOwtgdd79nRg9Tt
DPp3iOkXlYWKD4ksE4deoMbxJProzyK3KWUDVoXMklKcdOX3WDJo0jHUqcspvE9H
VZTmxbmlmb+0ippS5D5Pi/Nnl9ZrpRjJni9IYIM9u7zTCfOb5/nwiOQDrvIXPae5
thNL8epo6JdXCl0oTDx2mfo2KXVwQlhhXviUgy1OJy6IegJv10ropMCKHI3i24Mt
mXVjWVKIUaL07xbFNjHYPZLKt+kPvnXVuto0ctECgYEA5kPTBUPrGSouGdAD1PwP
MjcKSyetgWYrR8cHFUGWG+Io7UsH5k9HbN22MCBhq31cdj4AVEGl7exOQlOzKLms
bXNN7+ZC37E1woan4Rfbkv8xY1+BGgU9bMOT04rOXtdPU2vDkxmua68XIPTZyCz4
Aj7oeRLZEpamXLAZ27UPYJ8CgYEA4n0FGs72Mvbim4GmObMmXpCBcrLfoFhT8vH+
d6nrkoke47l3qroDoESiwSOI3+RD55q6N7E66K4ffCo/j6usRxI/yW2rGOsp0Bd4
07lXFtFhohnsr7FYLImYzKMzDIfXhDDjAlkIlhUus4JIjjhwRYG7Ryl/FCPZw6yA
OIzGI8UCgYEAoVuj80ud4ruJJLN9C/I6H+EsCHBciJH1AE57Ky0TqKR6M5bhiUXC
8ooHUoBOkSK++WkHSAPc5/Yw/Q+0O3SpXOVxFwyPjjubRZ6g4/6Y8tB7ZnyVdot3
eNEwtQvPA+zzfKzGlz1m2bUPixupxTml7cTxmW5YyUrid487/5dImFcCgYEAhyR0
JE/z5escwg91YR59uZVeOFN1TlcGGIO/BCYW04QQM2+acPu3aC0sNDSA2p94yTyw
+sQ801P6o3sOHCsii/Her9FJc3/2nh0zUppX1dyv9iqj6R3X8BNWYlzK/CIePdlx
yxfXIL6Y9DG8G2ifzUmgttCS7DCMIs7OX2/YVsUCgYAwyvTeUPWUW8bPGnQEz3Xr
JgfmFzJJbq842jqb4iURxkfo5/9yXEgbsxOJkh3v4Un5oQ0ByJmwehLVYBpW0oja
UQDdG6l9gZXCWmNzBMqtItzFmsjj84gld5skxM2JbHgzM5IHm2gzzubRx1nWYr3h
p8uJ2gZ8b7g7h/5R/MhAdA==
-----END PRIVATE KEY-----
$k$),
('x25519', $k$-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VuBCIEIPABQz79Qk1EeFpYs3WJ9fv+D33uc4nMib9OcSHcoGp5
-----END PRIVATE KEY-----
$k$),
('rsa_enc', $k$-----BEGIN ENCRYPTED PRIVATE KEY-----
MIIFLTBXBgkqhkiG9w0BBQ0wSjApBgkqhkiG9w0BBQwwHAQI6s782SU2XP4CAggA
MAwGCCqGSIb3DQIJBQAwHQYJYIZIAWUDBAEqBBAMoMptD09Lh61+mRVyc1ILBIIE
0MBydzChJhX8IGfkxEiTmqsOpiTQlVrQ5KbWvvB6mLJkMI6j28fRWFIiPRvvT1sD
34S2md9dO7Pv72z22A+RuVvPpEvB2K5VaZrt1MVxUJ1PObOcgBLq/FMZLsF5LO6f
21gSSWfXEWUMBSczXwq1tDd014QIvLcxP9b/eRB4KyuLIka8DgB6hw8y7P/ilK5y
RmaqX2LswkPhHW6cG9u9guS//15ctmDXthkbjXK8Pv9yiWL8crnX+gR7dsYBDY4m
6uwc705Uz38RC0b9RQrImR3ci7AzPGUbtVpzAOyuN+iv7aVZVfaEr6CJN1VQrZ4W
ih1/+8MofUW9obZSseneU7f2dujpr8Mi3P/gaj5QDV6DmWVy+ZhZFhmObRpR5Tq0
seRLEP8Op01AFWDjPCPN6t0JvAOKjL5OFPc/tUNMVfYEcWzY0cxWZIEqSOpArwoi
PnuknL8944/rfuOo7K+nWwjHLNehJdUcZH1dpfMZligqu+mizd3keS+nugSYjCEo
a63q90JmM2/lDVGETe7tJ18eUzOUFZvqr43JqYwOl+rUMSNFemXePsDNDHGPD51y
iUvDY6auXa2Yz6zTRuY/oqK+YKCHEZuOGoi4Vbgo/aBEXSrNVIL4tASAoA4FOEYY
CK9QYyvDKzBXJ+MjLamCAg9a2gMhRQlJkXEt9wFxKSl3H78Ouc45B37fqeaB35D3
PEL65MuF0CBtgMSlvPfD5stORdgc35upIZjFB+wGRLOVBaFZEILYgqyMX+2lGiu0
3cCRWNvXq7AROP2WRqayQ3rwDZRk0b7P2IhvPsRabFk5T+Y+J5a4dXDJwQ5xWOvG
uJIWXgsL8Pl4hAdzRYABdLxmR5QawR/mSmaUhyvcCtTM1Ru7CJACtrNcJZ06JxdV
cSQD+zqgzjb97K+GfUu5LfJtlwOFoEzoBSnejIiGHuF//pyJmJS640yMBYr24VMi
h6KcZ4COSHiHE8zlECbNGTDqWdjuJeVuw3kLgx+T/KYaWCaGsITSLgEMSIML0vY9
HNJiTEJj34ZTeSRXHVAgzj9x/tNWnmvKQQUzXJlS3/0MqhuisRU8AeOHCqxFUssl
ZTGKNH5En1cp3GvVJ1Xo1cBK2noTe4GR5vM2mDF/cGczaLI/JTW6siTpPsDaZzgh
8C4VP+hLpTFRp4U3092KWT4NxzPcsdIf5Tpwf2cE+Noy5i8dqNtaphCgs1rGVBkr
5RDcoqteGdR5gisX1olA0dkqvGdF+VdDkRtqGa76fcMRyO+sNhWCsFXR9DODzur8
OyIeq/pxy8ybL26aIplyoQjUD2Zgki3rug4YQWwGkgcS257qgFhdHblk8oV7zR0Y
oCSBPf96yi+KnyV9eMQ5VmK/W7aIvPxdZzEtiPIy0QOoZ1R4v574Hk9HVBsraWN+
HxvqdU8fjv7+FF+jIcDLFc1pzDSU2EDt6ndG9hlYPwd9VFLsVyBhALKK1VuKd3sH
mj2eeMX/d+yVoSQdXncMiQ2Jl78+xMAJP55wL22xK0w4FUU2/0NgtmsdtoDZGpVU
Uaa5jXc0Fdf6f2dwzP60UuxrHUdWFIi7GVkB88yfhxwXebDTNVM3C6fSVjtJNr8e
zKT7gJuuJauN3M7bsOYwMN7xSSjll5SvOS4ZnxbK6aCf
-----END ENCRYPTED PRIVATE KEY-----
$k$),
('ed25519_cert', $k$-----BEGIN CERTIFICATE-----
MIIBNDCB56ADAgECAhQpPp95MvfZmx3DkQE5KhLuNKKVDTAFBgMrZXAwDzENMAsG
A1UEAwwEdGVzdDAgFw0yNjExMjkwNDQ3MTFaGA8yMTI2MTEwNTA0NDcxMVowDzEN
MAsGA1UEAwwEdGVzdDAqMAUGAytlcAMhAHabwJVc1CxhSySBpmwvCbHlWFozpCyN
MysD9Yz8lUmco1MwUTAdBgNVHQ4EFgQUyPbV+/OsCzCRhiozLh8cgIXQZPEwHwYD
VR0jBBgwFoAUyPbV+/OsCzCRhiozLh8cgIXQZPEwDwYDVR0TAQH/BAUwAwEB/zAF
BgMrZXADQQCFmam1hoTXOJEwmgSvuvYGIKYnaEpXW/Pr7BcteO/51Ka9LgjSBBNE
KcwluZrf7/ADcnJWSAMZf4mJ+bOh+hQF
-----END CERTIFICATE-----
$k$),
('rsa_jwk', $k${"kty":"RSA","key_ops":["sign"],"n":"uAeFb3Q1lI2Pq7IbOy1XStcZC4zjzQTRihL3ldAjQMgSocFjtr_jd_Ot5qxMws9IDajnRTcN7EuMtm8PFkDaYJ-xwkMyptGjrTfmNvOio2giF_TpfrtjYqwkF_ogbqhrMh5USQxB0FuquDYFPhgfvO-tAHiNE2EU4MaTkH_maI74yu6QecnnqEAslTya9zgt7qv04ARe3XDtP7ckNAap1Uc9l6Ux9bczKCdX2bURNTQk7pAws9Fl3tQGwN5y2OQZDu_SaL0t0GL7T3dj644Nrb1DpfwrU_5WljNi3PfNmDXP07cfF7YOVDlulEISLYla31W-WXj9WrbBgM5lbbS7bw","e":"AQAB","d":"Bu1pjXd_aNcnWFw9AC5FwfB05eVo0dfjl2H9ZetO2GpvoR0phsCUbHiEzFEiFpc87B62jflzkbiKVHe7xqesUMTSKTDkYDk2Axg-l0T2k1YhKmuyum2NYTJ_rVNiEyhN2LYhkBphA9nfhE2sRtkboL4Y8hKXpOobohZ3iZH292qSBXsIiR2WuPNgbYiCCnlrLOJA9bqwN71eXSCFR7jSVjKk_ZybIbEMyDUDSSkkM8yk-kwFS2dOOFoPYQc7v2hJ7_lffgMMyNUqI7fSP9FjgJn5Iby38vs3fQ5mm63s7ltR1UHsElWHRl-uyLOWrAI46B4_7RxTq9w8QugWNQko0Q","p":"2vLaoyb1ompckvFtGm07LJrYYjPoBrxXTEpBKldjfQnvjjPIIooELVao5s2NxB2Omde8_9yMIHartuLzCFRI9NaMVo5p0p_j4Pso1Ec7x3Kl9656YKwQg63n78HFelUsz1c83KdYUTH5RJhE50H15DOmfcsRbwSZ26G0winNnhc","q":"1yvrCkKGQJ6yKp2XTZcD_n6I-owvpqN6VNgbIp5C3tx3a0pgxUxXjWsyvgbRInL63X0J0OnjCkstN5NZb2608cLJBqgmB6q-GA7-JJbD3nZLUCXNyJyZ00tNdMIbVCqfjVh-r_5CzJsLBHvLbFZDJ5AQyohcD2gTIYY8szuqvGk","dp":"lTmuEELOaZrqa3BGtxs5mIYU8qGEA4s8SI_XaD9VXHR4JEhgoEHG5QvKZDw24jJu7aWfeBdeHgYjtKtrjwK7Erxju96me1pkWwNzaXL_aElYmr39RIQhYU4W5U8BBAanWs2PeqhHxlc0GC9bzu4i5Bzb3aKYyDyvjITjCO6q6JM","dq":"QxvXeqO064KTXuc3wWNQQ5eDcWE3m2lxRfUAwZNKl-d692ODOwXMaLb-ZHYL1Aq4Y0wUO6w2u4cm2yaBxldo594whHr9IXcHQsmqSg8bl86dPqoLvH3bHCNoTPodO-rvSE5JdOqAOwBAN23EzE07NKOiGQjebY-wJ8yOMfhyD8E","qi":"YAqu7xpXYFq1Px48KhJQx5VF1puGL5dVpUcf8e3OjeDfV1imkyCeYe3xhAGkVJFuBX6qPd7yGWYk3dQs0IzVRcDBTogxl_GQy4MwrZNhlrqxvAwgGwDlSAWzbBOlHBXDLig3N1BAgrtD3QzH2fV04XbpylNBwDqZg6FB5ovcej0"}$k$),
('rsa_pub_jwk', $k${"kty":"RSA","key_ops":["verify"],"n":"uAeFb3Q1lI2Pq7IbOy1XStcZC4zjzQTRihL3ldAjQMgSocFjtr_jd_Ot5qxMws9IDajnRTcN7EuMtm8PFkDaYJ-xwkMyptGjrTfmNvOio2giF_TpfrtjYqwkF_ogbqhrMh5USQxB0FuquDYFPhgfvO-tAHiNE2EU4MaTkH_maI74yu6QecnnqEAslTya9zgt7qv04ARe3XDtP7ckNAap1Uc9l6Ux9bczKCdX2bURNTQk7pAws9Fl3tQGwN5y2OQZDu_SaL0t0GL7T3dj644Nrb1DpfwrU_5WljNi3PfNmDXP07cfF7YOVDlulEISLYla31W-WXj9WrbBgM5lbbS7bw","e":"AQAB"}$k$),
('ec256_jwk', $k${"kty":"EC","crv":"P-256","x":"_ASgQBoOm1RYIgyntaEfOjDzmvJbSdf0sCa3ugfrb_c","y":"pjX8ewE07PhA-A52xmNyW3Rl8YFYEwImYcP20kHyYPE","d":"ZKIWQPypybZQC3EhnhIW3BjY8WUwkNhoUt7AvAywVs8"}$k$),
('ec256_pub_jwk', $k${"kty":"EC","crv":"P-256","x":"_ASgQBoOm1RYIgyntaEfOjDzmvJbSdf0sCa3ugfrb_c","y":"pjX8ewE07PhA-A52xmNyW3Rl8YFYEwImYcP20kHyYPE"}$k$),
('ec521_pub_jwk', $k${"kty":"EC","crv":"P-521","x":"NDaGpcrmq16n1f6trIgsBml8H6Qg7ANuLpi4ue2uJTnKW5tRrV305ESl5MI328NlwOtiUHvRzsFKQEeob37u-qc","y":"Ae2OLlm8txjipOfIpjI1wVCHBITRHzxG0RkQLEgj7qXgevR98wrKqdzQ13FOAgzeYRBFlbVITHLSyYqB73y6zmsf"}$k$),
('ed25519_jwk', $k${"x":"dpvAlVzULGFLJIGmbC8JseVYWjOkLI0zKwP1jPyVSZw","d":"TarZkMmUJg65GbwYUazqzi4yTCBkoMl3Im6J90XXAbc","kty":"OKP","crv":"Ed25519"}$k$),
('ed25519_pub_jwk', $k${"x":"dpvAlVzULGFLJIGmbC8JseVYWjOkLI0zKwP1jPyVSZw","kty":"OKP","crv":"Ed25519"}$k$),
('ed448_pub_jwk', $k${"x":"dQv6LAQysCvf8Nm86iL4qsWxkMSy3ds_YnMWX4AKlAU_3ffYO0UB81g5b004sSHo7RFGp1MkuLuA","kty":"OKP","crv":"Ed448"}$k$);

-- Helpers shared by the suites that follow.
CREATE EXTENSION pgcrypto;

-- base64url without padding, for forging tokens by hand
CREATE FUNCTION b64u(data bytea) RETURNS text LANGUAGE sql IMMUTABLE
AS $$ SELECT translate(encode(data, 'base64'), E'+/=\n', '-_') $$;
CREATE FUNCTION b64u(data text) RETURNS text LANGUAGE sql IMMUTABLE
AS $$ SELECT b64u(convert_to(data, 'UTF8')) $$;

-- The HMAC secret most tests use (36 bytes).
CREATE FUNCTION secret() RETURNS text LANGUAGE sql IMMUTABLE
AS $$ SELECT 'correct horse battery staple 123456' $$;

-- A token with any header and payload text, validly HMAC-signed.
CREATE FUNCTION forge(header text, payload text, key text DEFAULT secret(), digest text DEFAULT 'sha256')
RETURNS text LANGUAGE sql IMMUTABLE
AS $$ SELECT b64u(header) || '.' || b64u(payload) || '.' ||
             b64u(hmac(b64u(header) || '.' || b64u(payload), key, digest)) $$;

-- A signed token whose claims are exactly this text.
CREATE FUNCTION claims_token(claims text) RETURNS text LANGUAGE sql
AS $$ SELECT jws_sign(convert_to(claims, 'UTF8'), secret(), 'HS256') $$;

-- Run a statement; 'ok' or its SQLSTATE and message.
CREATE FUNCTION try(q text) RETURNS text LANGUAGE plpgsql
AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- Verify with the shared secret (or key) at a fixed time: 'ok' or SQLSTATE and message.
CREATE FUNCTION outcome(token text, key text DEFAULT secret(), at timestamptz DEFAULT '2030-01-01 00:00:00+00')
RETURNS text LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM jwt_verify(token, key, now => at);
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- The key by name.
CREATE FUNCTION k(name text) RETURNS text LANGUAGE sql STABLE
AS $$ SELECT key FROM test_keys WHERE test_keys.name = k.name $$;

-- jwt_is_valid at the same fixed time: 't', 'f', or the error it raised.
CREATE FUNCTION valid(token text, key text DEFAULT secret(), at timestamptz DEFAULT '2030-01-01 00:00:00+00')
RETURNS text LANGUAGE plpgsql
AS $$
BEGIN
    RETURN jwt_is_valid(token, key, now => at)::text;
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- base64url to bytes
CREATE FUNCTION unb64u(s text) RETURNS bytea LANGUAGE sql IMMUTABLE
AS $$ SELECT decode(translate(s, '-_', '+/') || repeat('=', (4 - length(s) % 4) % 4), 'base64') $$;

-- The token with its signature segment replaced by these bytes.
CREATE FUNCTION with_sig(token text, sig bytea) RETURNS text LANGUAGE sql IMMUTABLE
AS $$ SELECT split_part(token, '.', 1) || '.' || split_part(token, '.', 2) || '.' || b64u(sig) $$;

-- The token with its header replaced (the signature stays).
CREATE FUNCTION with_header(token text, header text) RETURNS text LANGUAGE sql IMMUTABLE
AS $$ SELECT b64u(header) || '.' || split_part(token, '.', 2) || '.' || split_part(token, '.', 3) $$;
