-- Objects the benchmark adds to its own databases (cdtg_bench_s*), never to a real one.
-- CDTG ignores them; the floor and PostGraphile use them.

-- Relay global ID exactly as CDTG encodes it (api/service/src/ids.rs): base64url, no padding, of
-- "<Type>:<row id>". An inlinable SQL function, so the planner folds it into each query.
CREATE OR REPLACE FUNCTION bench_gid(t text, id bigint) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT rtrim(translate(encode(convert_to(t || ':' || id, 'UTF8'), 'base64'), '+/', '-_'), '=')
$$;

-- The [lo, hi) materialised-path range of a unit's subtree, as CDTG computes it
-- (api/service/src/service/scope.rs subtree_range): '/' sorts below every digit.
CREATE OR REPLACE FUNCTION bench_path_hi(path text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT left(path, -1) || '0' $$;

-- PostGraphile (amber preset) has no subtree filter, no substring filter and no aggregates.
-- Its documented way to add them is a database function, which it exposes in its schema:
-- a computed column `AdminUnit.subtreeGroups`, a root query `benchSearchProducts` and a root
-- query `benchCityDashboard`. These are the "closest honest equivalents" in RESULTS.md.
CREATE OR REPLACE FUNCTION admin_units_subtree_groups(u admin_units) RETURNS SETOF groups
LANGUAGE sql STABLE AS $$
  SELECT g.* FROM groups g
  WHERE g.unit_path >= u.path AND g.unit_path < bench_path_hi(u.path)
  ORDER BY g.name_key, g.id
$$;

-- `search` must already be folded (lower case, no diacritics), as CDTG folds it in Rust.
CREATE OR REPLACE FUNCTION bench_search_products(search text) RETURNS SETOF products
LANGUAGE sql STABLE AS $$
  SELECT p.* FROM products p
  WHERE p.name_folded LIKE '%' || search || '%'
  ORDER BY p.name_key, p.id
$$;
