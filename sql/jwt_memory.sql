-- No per-call leak: the backend's data segment (malloc'd and palloc'd memory alike)
-- stays flat over hundreds of thousands of calls once warmed up, including calls
-- that fail and a key cache that keeps evicting (freeing OpenSSL objects).
CREATE FUNCTION vmdata_kb() RETURNS bigint LANGUAGE sql
AS $$ SELECT substring(pg_read_file('/proc/self/status') from 'VmData:\s+(\d+)')::bigint $$;
SET jwt.default_lifetime = 0;
CREATE TABLE mem_tokens AS
SELECT i,
       jwt_sign(jsonb_build_object('sub', 'user' || i, 'exp', 1893459600), secret()) AS hs,
       jwt_sign(jsonb_build_object('sub', 'user' || i, 'exp', 1893459600), k('ec_p256')) AS es,
       jwt_sign(jsonb_build_object('sub', 'user' || i, 'exp', 1893459600), k('rsa')) AS rs,
       jwt_sign(jsonb_build_object('sub', 'user' || i, 'exp', 1000), secret()) AS expired
FROM generate_series(1, 500) i;

-- One round of every kind of call, n times over the 500 tokens.
CREATE FUNCTION workload(n int) RETURNS bigint LANGUAGE sql AS $$
  SELECT count(jwt_verify(hs, secret(), now => '2030-01-01 00:00+00'))
       + count(*) FILTER (WHERE NOT jwt_is_valid(expired, secret()))
       + count(*) FILTER (WHERE NOT jwt_is_valid(hs || 'A', secret()))
       + count(*) FILTER (WHERE NOT jwt_is_valid('x' || hs, secret()))
       + count(jwt_sign(jsonb_build_object('sub', 'u' || i, 'n', g), secret()))
       + count(jws_verify(hs, secret()))
  FROM mem_tokens, generate_series(1, n) g
$$;
CREATE FUNCTION asymmetric_workload(n int) RETURNS bigint LANGUAGE sql AS $$
  SELECT count(jwt_verify(es, k('ec_p256_pub'), now => '2030-01-01 00:00+00'))
       + count(jwt_verify(rs, k('rsa_pub'), now => '2030-01-01 00:00+00'))
       + count(jwt_sign(jsonb_build_object('sub', 'u' || i), k('ed25519')))
  FROM mem_tokens, generate_series(1, n) g
$$;
-- 40 distinct key texts for a 32-entry cache: every call parses and evicts a key
CREATE FUNCTION cache_churn(n int) RETURNS bigint LANGUAGE sql AS $$
  SELECT count(*) FILTER (WHERE jwt_is_valid(rs, k('rsa_pub') || repeat(' ', (i + g) % 40), now => '2030-01-01 00:00+00'))
       + count(*) FILTER (WHERE jwt_is_valid(hs, secret() || repeat('!', (i + g) % 40), now => '2030-01-01 00:00+00'))
  FROM mem_tokens, generate_series(1, n) g
$$;

-- A leak is memory that keeps growing with the number of calls, so the same
-- calls run in three equal windows after a warm-up, and each window's growth
-- is measured twice: the backend's data segment (malloc'd memory, OpenSSL's
-- included) and the bytes its memory contexts hold.  Noise -- the malloc heap
-- stepping once to its high-water mark (up to 1 MB was seen), a cache filling --
-- lands in one window or two (steps of 1 MB were seen); a leak lands in every
-- one.  So the verdict is on the window that grew least: under 1 MB of data
-- segment (a leak of 4 bytes a call on average, or of one OpenSSL object --
-- hundreds of bytes -- in any kind of call, exceeds it) and under 64 kB of
-- memory contexts (exact: no palloc'd byte may stay behind).
CREATE FUNCTION context_bytes() RETURNS bigint LANGUAGE sql
AS $$ SELECT sum(total_bytes)::bigint FROM pg_backend_memory_contexts $$;
CREATE TABLE mem_windows (w int, vmdata_kb bigint, context_kb bigint);
CREATE FUNCTION mark(w int) RETURNS void LANGUAGE sql
AS $$ INSERT INTO mem_windows VALUES (w, vmdata_kb(), context_bytes() / 1024) $$;

SELECT workload(100), asymmetric_workload(10), cache_churn(4);  -- warm up
SELECT mark(0);
-- each window: 300,000 calls, 15,000 asymmetric calls, 4,000 key parses
SELECT workload(100), asymmetric_workload(10), cache_churn(4);
SELECT mark(1);
SELECT workload(100), asymmetric_workload(10), cache_churn(4);
SELECT mark(2);
SELECT workload(100), asymmetric_workload(10), cache_churn(4);
SELECT mark(3);
CREATE VIEW mem_growth AS
SELECT w, vmdata_kb - lag(vmdata_kb) OVER (ORDER BY w) AS vmdata_growth_kb,
       context_kb - lag(context_kb) OVER (ORDER BY w) AS context_growth_kb
FROM mem_windows;
SELECT min(vmdata_growth_kb) < 1024 AS data_segment_flat,
       min(context_growth_kb) < 64 AS memory_contexts_flat
FROM mem_growth WHERE w > 0;
-- on failure, every window's growth
SELECT w, vmdata_growth_kb, context_growth_kb FROM mem_growth
WHERE w > 0 AND (SELECT min(vmdata_growth_kb) >= 1024 OR min(context_growth_kb) >= 64
                 FROM mem_growth WHERE w > 0);

-- The detector itself: a workload that does leak (every call creates a new
-- custom setting holding a 4 kB value, malloc'd memory kept for the session)
-- is caught by the same verdict.  Few settings with long values: PostgreSQL 15
-- and older sort every setting each time one is added (quadratic in their count).
CREATE TABLE leak_windows (w int, vmdata_kb bigint);
CREATE FUNCTION leaky(w int) RETURNS bigint LANGUAGE sql AS $$
  SELECT count(set_config('jwt_leak_test.w' || w || '_' || g, repeat('x', 4096), false))
  FROM generate_series(1, 1000) g
$$;
INSERT INTO leak_windows VALUES (0, vmdata_kb());
SELECT leaky(1) > 0 AS leaked;
INSERT INTO leak_windows VALUES (1, vmdata_kb());
SELECT leaky(2) > 0 AS leaked;
INSERT INTO leak_windows VALUES (2, vmdata_kb());
SELECT leaky(3) > 0 AS leaked;
INSERT INTO leak_windows VALUES (3, vmdata_kb());
SELECT min(growth) >= 1024 AS leak_detected
FROM (SELECT vmdata_kb - lag(vmdata_kb) OVER (ORDER BY w) AS growth FROM leak_windows) g
WHERE growth IS NOT NULL;
