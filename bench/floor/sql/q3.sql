-- Q3: the city dashboard. The city's figures and targets, then the same figures per district
-- (child) and per ward (grandchild). Each fact table is read once: rows are keyed by their
-- child and grandchild segment of the materialised path and rolled up with GROUPING SETS.
WITH c AS (
  SELECT id, name, path, depth, bench_path_hi(path) AS hi FROM admin_units WHERE id = $1
), fine AS (
  SELECT split_part(g.unit_path, '/', c.depth + 3) AS d, split_part(g.unit_path, '/', c.depth + 4) AS w,
         count(*) FILTER (WHERE g.kind = 'COMMUNITY') AS groups, 0 AS members, 0 AS done,
         0 AS activities, 0 AS residents, 0 AS vneid
  FROM groups g, c WHERE g.unit_path >= c.path AND g.unit_path < c.hi GROUP BY 1, 2
  UNION ALL
  SELECT split_part(m.unit_path, '/', c.depth + 3), split_part(m.unit_path, '/', c.depth + 4),
         0, count(*), 0, 0, 0, 0
  FROM members m, c WHERE m.unit_path >= c.path AND m.unit_path < c.hi GROUP BY 1, 2
  UNION ALL
  SELECT split_part(g.unit_path, '/', c.depth + 3), split_part(g.unit_path, '/', c.depth + 4),
         0, 0, count(*), 0, 0, 0
  FROM tasks t JOIN groups g ON g.id = t.group_id, c
  WHERE t.status = 'DONE' AND g.unit_path >= c.path AND g.unit_path < c.hi GROUP BY 1, 2
  UNION ALL
  SELECT split_part(g.unit_path, '/', c.depth + 3), split_part(g.unit_path, '/', c.depth + 4),
         0, 0, 0, count(*), sum(a.residents_helped), sum(a.vneid_activations)
  FROM activities a JOIN groups g ON g.id = a.group_id, c
  WHERE g.unit_path >= c.path AND g.unit_path < c.hi GROUP BY 1, 2
), rolled AS (
  SELECT d, w, GROUPING(d, w) AS lvl, sum(groups) AS groups, sum(members) AS members,
         sum(done) AS done, sum(activities) AS activities, sum(residents) AS residents,
         sum(vneid) AS vneid
  FROM fine GROUP BY GROUPING SETS ((), (d), (d, w))
), stats AS (
  -- lvl 3: the city; 1: a district (d); 0: a ward (d, w). w = '' are rows attached to the
  -- district itself, which belong to no ward.
  SELECT CASE lvl WHEN 3 THEN (SELECT id FROM c) WHEN 1 THEN d::bigint ELSE w::bigint END AS unit_id,
         groups, members, done, activities, residents, vneid
  FROM rolled WHERE lvl IN (1, 3) OR (lvl = 0 AND w <> '')
), small AS (
  SELECT u.id, u.name, u.parent_id,
         json_build_object('groups', coalesce(s.groups, 0), 'members', coalesce(s.members, 0),
                           'residentsHelped', coalesce(s.residents, 0),
                           'tasksDone', coalesce(s.done, 0)) AS stats
  FROM admin_units u LEFT JOIN stats s ON s.unit_id = u.id
  WHERE u.parent_id = $1 OR u.parent_id IN (SELECT id FROM admin_units WHERE parent_id = $1)
), targets AS (
  -- Actual values over each target's own period (calendar dates in Asia/Ho_Chi_Minh).
  SELECT ut.indicator, ut.period_start, ut.period_end, ut.target_value,
         CASE ut.indicator
           WHEN 'RESIDENTS_HELPED' THEN (
             SELECT coalesce(sum(a.residents_helped), 0) FROM activities a JOIN groups g ON g.id = a.group_id
             WHERE g.unit_path >= c.path AND g.unit_path < c.hi
               AND a.occurred_at >= ut.period_start::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh'
               AND a.occurred_at < (ut.period_end + 1)::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh')
           WHEN 'VNEID_ACTIVATIONS' THEN (
             SELECT coalesce(sum(a.vneid_activations), 0) FROM activities a JOIN groups g ON g.id = a.group_id
             WHERE g.unit_path >= c.path AND g.unit_path < c.hi
               AND a.occurred_at >= ut.period_start::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh'
               AND a.occurred_at < (ut.period_end + 1)::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh')
           WHEN 'TASKS_DONE' THEN (
             SELECT count(*) FROM tasks t JOIN groups g ON g.id = t.group_id
             WHERE g.unit_path >= c.path AND g.unit_path < c.hi AND t.status = 'DONE'
               AND t.due_on >= ut.period_start AND t.due_on <= ut.period_end)
         END::float8 AS actual
  FROM unit_targets ut, c WHERE ut.unit_id = c.id
)
SELECT json_build_object('data', json_build_object(
  'adminUnit', json_build_object(
    'id', bench_gid('AdminUnit', c.id), 'name', c.name,
    'stats', (SELECT json_build_object(
        'groups', s.groups, 'members', s.members, 'activities', s.activities,
        'residentsHelped', s.residents, 'vneidActivations', s.vneid, 'tasksDone', s.done,
        'targets', coalesce((SELECT json_agg(json_build_object(
            'indicator', t.indicator, 'periodStart', t.period_start, 'periodEnd', t.period_end,
            'target', t.target_value, 'actual', t.actual,
            'progress', t.actual / nullif(t.target_value, 0))
          ORDER BY t.indicator, t.period_start) FROM targets t), '[]'::json))
      FROM stats s WHERE s.unit_id = c.id),
    'children', json_build_object('nodes', coalesce((
      SELECT json_agg(json_build_object(
        'id', bench_gid('AdminUnit', d.id), 'name', d.name,
        'children', json_build_object('nodes', coalesce((
          SELECT json_agg(json_build_object('id', bench_gid('AdminUnit', w.id), 'name', w.name,
                                            'stats', w.stats) ORDER BY w.name, w.id)
          FROM small w WHERE w.parent_id = d.id), '[]'::json)))
        ORDER BY d.name, d.id)
      FROM small d WHERE d.parent_id = c.id), '[]'::json))),
  'districts', json_build_object('rows', coalesce((
    SELECT json_agg(json_build_object('unit', json_build_object('id', bench_gid('AdminUnit', d.id), 'name', d.name),
                                      'stats', d.stats) ORDER BY d.name, d.id)
    FROM small d WHERE d.parent_id = c.id), '[]'::json))))::text
FROM c
