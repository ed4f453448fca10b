# pgjwt: the pgjwt 0.2.0 drop-in (pgjwt_compat.c), a second extension over the same library
# jwt_auth: Supabase's and Neon's auth.* names over jwt's identity, in SQL
EXTENSION = jwt pgjwt jwt_auth
PG_CONFIG ?= pg_config

MODULE_big = jwt
OBJS = \
	jwt.o \
	pgjwt_compat.o \
	keyring.o \
	revocation.o \
	identity.o \
	transport.o \
	impersonate.o \
	oauth.o \
	issuers.o \
	postgrest.o \
	stats.o \
	jwks_fetch.o \
	dpop.o \
	src/b64url.o \
	src/envelope.o \
	src/error.o \
	src/json_strict.o \
	src/jsonb_text.o \
	src/jws.o \
	src/claims.o \
	src/crypto.o \
	src/keys.o \
	src/keycache.o \
	src/keygen.o \
	src/identity.o \
	src/keyring.o \
	src/revocation.o \
	src/jspath.o \
	src/roleclaim.o \
	src/pgjwt.o \
	src/transport.o \
	sessions.o \
	src/session.o \
	src/stats.o \
	src/http_fetch.o \
	src/jwks_fetch.o \
	src/issuer_refresh.o \
	src/oauth_scope.o \
	src/dpop.o \
	src/dpop_replay.o \
	src/token_cache.o \
	token_cache.o

# jwt's install script is that of its first version; CREATE EXTENSION runs it
# and then the update scripts up to default_version, the same path that
# ALTER EXTENSION jwt UPDATE takes (so fresh and updated installs cannot differ).
DATA = \
	jwt--0.1.0.sql \
	jwt--0.1.0--0.2.0.sql \
	pgjwt--0.2.0.sql \
	jwt_auth--0.1.0.sql
REGRESS = jwt_setup jwt_basic jwt_strict jwt_claims jwt_keys jwt_vectors jwt_keyring jwt_keyring_access jwt_revocation jwt_rls jwt_attacks jwt_audit jwt_postgrest jwt_auth_compat jwt_impersonate jwt_stats jwt_memory jwt_sessions jwt_consume jwt_sessions_attacks jwt_sessions_dpop jwt_issuers jwt_issuers_review jwt_dpop jwt_token_cache
REGRESS_OPTS = --inputdir=. --load-extension=jwt

# -isystem: PostgreSQL's own headers are not warning-clean under -Wextra,
# and CI builds with PG_CFLAGS="-Wall -Wextra -Werror".
PG_CPPFLAGS = -I$(srcdir)/src -isystem $(shell $(PG_CONFIG) --includedir-server)
SHLIB_LINK = -lcrypto
# JWKS URLs: libcurl fetches identity providers' key sets (src/http_fetch.c)
SHLIB_LINK += -lcurl

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS tracks no header dependencies: rebuild everything when a header changes.
$(OBJS): $(wildcard $(srcdir)/src/*.h) $(wildcard $(srcdir)/*.h)
# VPATH builds (pg_buildext, in build-15/): src/*.o and src/*.bc need a src/
# there. An absolute path, or make would find the source tree's src/.
$(OBJS) $(OBJS:.o=.bc): | $(CURDIR)/src
$(CURDIR)/src:
	mkdir -p $@

.PHONY: test demo bench
test:
	bash test/run-tests.sh
demo:
	bash test/demo.sh
bench:
	bash bench/run.sh

# libFuzzer targets for the parsing and signature core, built outside the
# server (see fuzz/README.md).  FUZZ_SECONDS per target; needs clang and
# libclang-rt-14-dev.
FUZZ_SECONDS ?= 60
.PHONY: fuzz
fuzz:
	bash fuzz/run.sh $(FUZZ_SECONDS)

.PHONY: sanitize
sanitize:
	bash test/sanitize.sh
