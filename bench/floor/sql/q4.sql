-- Q4: every group of one district (by folded name; at most $2, the cap CDTG's two pages of 100
-- allow) with all its current members.
WITH u AS (
  SELECT id, name, path FROM admin_units WHERE id = $1
)
SELECT json_build_object('data', json_build_object('adminUnit', json_build_object(
  'id', bench_gid('AdminUnit', u.id), 'name', u.name,
  'groups', json_build_object('nodes', coalesce((
    SELECT json_agg(json_build_object(
      'id', bench_gid('Group', g.id), 'name', g.name, 'kind', g.kind, 'status', g.status,
      'members', json_build_object('nodes', coalesce((
        SELECT json_agg(json_build_object(
          'id', bench_gid('Member', m.id), 'fullName', m.full_name, 'phone', m.phone,
          'affiliation', m.affiliation) ORDER BY m.name_key, m.id)
        FROM memberships ms JOIN members m ON m.id = ms.member_id
        WHERE ms.group_id = g.id AND ms.left_on IS NULL), '[]'::json)))
      ORDER BY g.name_key, g.id)
    FROM (SELECT g.id, g.name, g.kind, g.status, g.name_key FROM groups g
          WHERE g.unit_path >= u.path AND g.unit_path < bench_path_hi(u.path)
          ORDER BY g.name_key, g.id LIMIT $2) g), '[]'::json)))))::text
FROM u
