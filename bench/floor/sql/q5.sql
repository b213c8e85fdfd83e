-- Q5: products whose folded name contains $1 (already folded), first $2 by folded name, with
-- the total count, whether a next page exists, each product's group and listings.
WITH hits AS (
  SELECT p.id, p.name, p.name_folded, p.name_key, p.category, p.ocop_stars, p.group_id
  FROM products p WHERE p.name_folded LIKE '%' || $1 || '%'
), page AS (
  SELECT * FROM hits ORDER BY name_key, id LIMIT $2 + 1
)
SELECT json_build_object('data', json_build_object('products', json_build_object(
  'totalCount', (SELECT count(*) FROM hits),
  'pageInfo', json_build_object('hasNextPage', (SELECT count(*) FROM page) > $2),
  'nodes', coalesce((
    SELECT json_agg(json_build_object(
      'id', bench_gid('Product', p.id), 'name', p.name, 'category', p.category,
      'ocopStars', p.ocop_stars,
      'group', json_build_object('name', g.name),
      'listings', coalesce((
        SELECT json_agg(json_build_object('platform', l.platform, 'status', l.status)
                        ORDER BY l.platform, l.id)
        FROM listings l WHERE l.product_id = p.id), '[]'::json))
      ORDER BY p.name_key, p.id)
    FROM (SELECT * FROM page ORDER BY name_key, id LIMIT $2) p
    JOIN groups g ON g.id = p.group_id), '[]'::json))))::text
