/*
 * fuzz/fuzz_keys.h - test keys for the fuzz targets
 *
 * Generated from sql/jwt_setup.sql by fuzz/tools/make_keys_h.py; they protect
 * nothing.
 */
#ifndef JWT_FUZZ_KEYS_H
#define JWT_FUZZ_KEYS_H

static const char fuzz_key_ec_p256[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgZKIWQPypybZQC3Eh\n"
	"nhIW3BjY8WUwkNhoUt7AvAywVs+hRANCAAT8BKBAGg6bVFgiDKe1oR86MPOa8ltJ\n"
	"1/SwJre6B+tv96Y1/HsBNOz4QPgOdsZjclt0ZfGBWBMCJmHD9tJB8mDx\n"
	"-----END PRIVATE KEY-----\n";

static const char fuzz_key_ec_p256_pub[] =
	"-----BEGIN PUBLIC KEY-----\n"
	"MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE/ASgQBoOm1RYIgyntaEfOjDzmvJb\n"
	"Sdf0sCa3ugfrb/emNfx7ATTs+ED4DnbGY3JbdGXxgVgTAiZhw/bSQfJg8Q==\n"
	"-----END PUBLIC KEY-----\n";

static const char fuzz_key_ec_p384[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIG2AgEAMBAGByqGSM49AgEGBSuBBAAiBIGeMIGbAgEBBDD24QLjrwg3+dVRp756\n"
	"TvdJHjK9GP5BzCkVl/q1Kcz+s7Tzgawj65XKOxqQFEleWKKhZANiAATAk1ITZny4\n"
	"y17syyxjWrklZhV15Tzp0qkff2YgjqWH3RgzbZoU2P7AhQaK8C4ypJFkzuHe0Tr/\n"
	"uwEwaqdIYeJpcX9zR15IUdkG3cbZY7lpCtHE8LW/BgDGIMDtsS4IgLY=\n"
	"-----END PRIVATE KEY-----\n";

static const char fuzz_key_ec_p521[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIHuAgEAMBAGByqGSM49AgEGBSuBBAAjBIHWMIHTAgEBBEIB4zRfvBDY5ZM1cDDj\n"
	"dQkD1GyQC1tCEUH2KNYxeBBSIH25qaUaHcKiD9g3oPcbCX53PcMfAQwEuXoUxmBZ\n"
	"xKWs6fWhgYkDgYYABAA0NoalyuarXqfV/q2siCwGaXwfpCDsA24umLi57a4lOcpb\n"
	"m1GtXfTkRKXkwjfbw2XA62JQe9HOwUpAR6hvfu76pwHtji5ZvLcY4qTnyKYyNcFQ\n"
	"hwSE0R88RtEZECxII+6l4Hr0ffMKyqnc0NdxTgIM3mEQRZW1SExy0smKge98us5r\n"
	"Hw==\n"
	"-----END PRIVATE KEY-----\n";

static const char fuzz_key_rsa[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC4B4VvdDWUjY+r\n"
	"shs7LVdK1xkLjOPNBNGKEveV0CNAyBKhwWO2v+N3863mrEzCz0gNqOdFNw3sS4y2\n"
	"bw8WQNpgn7HCQzKm0aOtN+Y286KjaCIX9Ol+u2NirCQX+iBuqGsyHlRJDEHQW6q4\n"
	"NgU+GB+8760AeI0TYRTgxpOQf+ZojvjK7pB5yeeoQCyVPJr3OC3uq/TgBF7dcO0/\n"
	"tyQ0BqnVRz2XpTH1tzMoJ1fZtRE1NCTukDCz0WXe1AbA3nLY5BkO79JovS3QYvtP\n"
	"d2Prjg2tvUOl/CtT/laWM2Lc982YNc/Ttx8Xtg5UOW6UQhItiVrfVb5ZeP1atsGA\n"
	"zmVttLtvAgMBAAECggEABu1pjXd/aNcnWFw9AC5FwfB05eVo0dfjl2H9ZetO2Gpv\n"
	"oR0phsCUbHiEzFEiFpc87B62jflzkbiKVHe7xqesUMTSKTDkYDk2Axg+l0T2k1Yh\n"
	"Kmuyum2NYTJ/rVNiEyhN2LYhkBphA9nfhE2sRtkboL4Y8hKXpOobohZ3iZH292qS\n"
	"BXsIiR2WuPNgbYiCCnlrLOJA9bqwN71eXSCFR7jSVjKk/ZybIbEMyDUDSSkkM8yk\n"
	"+kwFS2dOOFoPYQc7v2hJ7/lffgMMyNUqI7fSP9FjgJn5Iby38vs3fQ5mm63s7ltR\n"
	"1UHsElWHRl+uyLOWrAI46B4/7RxTq9w8QugWNQko0QKBgQDa8tqjJvWialyS8W0a\n"
	"bTssmthiM+gGvFdMSkEqV2N9Ce+OM8giigQtVqjmzY3EHY6Z17z/3Iwgdqu24vMI\n"
	"VEj01oxWjmnSn+Pg+yjURzvHcqX3rnpgrBCDrefvwcV6VSzPVzzcp1hRMflEmETn\n"
	"QfXkM6Z9yxFvBJnbobTCKc2eFwKBgQDXK+sKQoZAnrIqnZdNlwP+foj6jC+mo3pU\n"
	"2BsinkLe3HdrSmDFTFeNazK+BtEicvrdfQnQ6eMKSy03k1lvbrTxwskGqCYHqr4Y\n"
	"Dv4klsPedktQJc3InJnTS010whtUKp+NWH6v/kLMmwsEe8tsVkMnkBDKiFwPaBMh\n"
	"hjyzO6q8aQKBgQCVOa4QQs5pmuprcEa3GzmYhhTyoYQDizxIj9doP1VcdHgkSGCg\n"
	"QcblC8pkPDbiMm7tpZ94F14eBiO0q2uPArsSvGO73qZ7WmRbA3Npcv9oSViavf1E\n"
	"hCFhThblTwEEBqdazY96qEfGVzQYL1vO7iLkHNvdopjIPK+MhOMI7qrokwKBgEMb\n"
	"13qjtOuCk17nN8FjUEOXg3FhN5tpcUX1AMGTSpfnevdjgzsFzGi2/mR2C9QKuGNM\n"
	"FDusNruHJtsmgcZXaOfeMIR6/SF3B0LJqkoPG5fOnT6qC7x92xwjaEz6HTvq70hO\n"
	"SXTqgDsAQDdtxMxNOzSjohkI3m2PsCfMjjH4cg/BAoGAYAqu7xpXYFq1Px48KhJQ\n"
	"x5VF1puGL5dVpUcf8e3OjeDfV1imkyCeYe3xhAGkVJFuBX6qPd7yGWYk3dQs0IzV\n"
	"RcDBTogxl/GQy4MwrZNhlrqxvAwgGwDlSAWzbBOlHBXDLig3N1BAgrtD3QzH2fV0\n"
	"4XbpylNBwDqZg6FB5ovcej0=\n"
	"-----END PRIVATE KEY-----\n";

static const char fuzz_key_ed25519[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MC4CAQAwBQYDK2VwBCIEIE2q2ZDJlCYOuRm8GFGs6s4uMkwgZKDJdyJuifdF1wG3\n"
	"-----END PRIVATE KEY-----\n";

static const char fuzz_key_ed448[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MEcCAQAwBQYDK2VxBDsEOSW6NnG9UHtXDg2+7fPzupFrWhrSQW8F56GqP50er7Cx\n"
	"AOU41Qhav0eubIy6EcjDv06I7El2dSnulw==\n"
	"-----END PRIVATE KEY-----\n";

static const char fuzz_key_rsa_pub_jwk[] =
	"{\"kty\":\"RSA\",\"key_ops\":[\"verify\"],\"n\":\"uAeFb3Q1lI2Pq7IbOy1XStcZC4zjzQTRihL3ldAjQMgSocFjtr_jd_Ot5qxMws9IDajnRTcN7EuMtm8PFkDaYJ-xwkMyptGjrTfmNvOio2giF_TpfrtjYqwkF_ogbqhrMh5USQxB0FuquDYFPhgfvO-tAHiNE2EU4MaTkH_maI74yu6QecnnqEAslTya9zgt7qv04ARe3XDtP7ckNAap1Uc9l6Ux9bczKCdX2bURNTQk7pAws9Fl3tQGwN5y2OQZDu_SaL0t0GL7T3dj644Nrb1DpfwrU_5WljNi3PfNmDXP07cfF7YOVDlulEISLYla31W-WXj9WrbBgM5lbbS7bw\",\"e\":\"AQAB\"}";

static const char fuzz_key_ec256_pub_jwk[] =
	"{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"_ASgQBoOm1RYIgyntaEfOjDzmvJbSdf0sCa3ugfrb_c\",\"y\":\"pjX8ewE07PhA-A52xmNyW3Rl8YFYEwImYcP20kHyYPE\"}";

static const char fuzz_key_ed25519_pub_jwk[] =
	"{\"x\":\"dpvAlVzULGFLJIGmbC8JseVYWjOkLI0zKwP1jPyVSZw\",\"kty\":\"OKP\",\"crv\":\"Ed25519\"}";

static const char fuzz_key_ed448_pub_jwk[] =
	"{\"x\":\"dQv6LAQysCvf8Nm86iL4qsWxkMSy3ds_YnMWX4AKlAU_3ffYO0UB81g5b004sSHo7RFGp1MkuLuA\",\"kty\":\"OKP\",\"crv\":\"Ed448\"}";

static const char fuzz_key_ec521_pub_jwk[] =
	"{\"kty\":\"EC\",\"crv\":\"P-521\",\"x\":\"NDaGpcrmq16n1f6trIgsBml8H6Qg7ANuLpi4ue2uJTnKW5tRrV305ESl5MI328NlwOtiUHvRzsFKQEeob37u-qc\",\"y\":\"Ae2OLlm8txjipOfIpjI1wVCHBITRHzxG0RkQLEgj7qXgevR98wrKqdzQ13FOAgzeYRBFlbVITHLSyYqB73y6zmsf\"}";

#endif
