-- Q1: one group by row id with its unit, the unit's ward and the ward's district.
SELECT json_build_object('data', json_build_object('group', json_build_object(
  'id', bench_gid('Group', g.id), 'name', g.name, 'kind', g.kind, 'status', g.status,
  'establishedOn', g.established_on,
  'unit', json_build_object(
    'id', bench_gid('AdminUnit', u.id), 'name', u.name, 'kind', u.kind,
    'parent', json_build_object(
      'id', bench_gid('AdminUnit', w.id), 'name', w.name, 'kind', w.kind,
      'parent', json_build_object(
        'id', bench_gid('AdminUnit', d.id), 'name', d.name, 'kind', d.kind))))))::text
FROM groups g
JOIN admin_units u ON u.id = g.unit_id
LEFT JOIN admin_units w ON w.id = u.parent_id
LEFT JOIN admin_units d ON d.id = w.parent_id
WHERE g.id = $1
