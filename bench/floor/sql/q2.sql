-- Q2: a ward's first 50 groups (by the Vietnamese sort key, as CDTG orders them), each with its first 20 current members
-- (by the same key) and its first 20 OPEN tasks (by due date). One statement: the N+1 test's floor.
WITH u AS (
  SELECT id, name, path FROM admin_units WHERE id = $1
), gs AS (
  SELECT g.id, g.name, g.status, g.name_key
  FROM groups g, u
  WHERE g.unit_path >= u.path AND g.unit_path < bench_path_hi(u.path)
  ORDER BY g.name_key, g.id
  LIMIT 50
)
SELECT json_build_object('data', json_build_object('adminUnit', json_build_object(
  'id', bench_gid('AdminUnit', u.id), 'name', u.name,
  'groups', json_build_object('nodes', coalesce((
    SELECT json_agg(json_build_object(
      'id', bench_gid('Group', gs.id), 'name', gs.name, 'status', gs.status,
      'members', json_build_object('nodes', coalesce((
        SELECT json_agg(json_build_object(
          'id', bench_gid('Member', m.id), 'fullName', m.full_name, 'phone', m.phone,
          'affiliation', m.affiliation) ORDER BY m.name_key, m.id)
        FROM (SELECT m.id, m.full_name, m.phone, m.affiliation, m.name_key
              FROM memberships ms JOIN members m ON m.id = ms.member_id
              WHERE ms.group_id = gs.id AND ms.left_on IS NULL
              ORDER BY m.name_key, m.id LIMIT 20) m), '[]'::json)),
      'tasks', json_build_object('nodes', coalesce((
        SELECT json_agg(json_build_object(
          'id', bench_gid('Task', t.id), 'title', t.title, 'status', t.status,
          'dueOn', t.due_on, 'progress', t.progress) ORDER BY t.due_on, t.id)
        FROM (SELECT t.id, t.title, t.status, t.due_on, t.progress FROM tasks t
              WHERE t.group_id = gs.id AND t.status = 'OPEN'
              ORDER BY t.due_on, t.id LIMIT 20) t), '[]'::json)))
      ORDER BY gs.name_key, gs.id)
    FROM gs), '[]'::json)))))::text
FROM u
