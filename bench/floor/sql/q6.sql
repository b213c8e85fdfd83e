-- Q6: report a field session on a task that still accepts reports: insert the activity, add
-- the residents helped to the task's progress (the tasks chosen are of kinds whose progress
-- counts residents helped), answer with the new activity's ID and the task's progress.
-- Unlike CDTG it skips the idempotent-replay look-up, scope checks and the audit event.
WITH t AS (
  SELECT id, group_id FROM tasks
  WHERE id = $1 AND status NOT IN ('DONE', 'CANCELLED')
), ins AS (
  INSERT INTO activities (task_id, group_id, occurred_at, residents_helped, vneid_activations,
                          progress_delta, idempotency_key, request_hash, created_at)
  SELECT t.id, t.group_id, $3::timestamptz, $2, 0, $2, $4, md5($4), now() FROM t
  RETURNING id, task_id
), up AS (
  UPDATE tasks SET progress = progress + $2, updated_at = now()
  WHERE id = (SELECT task_id FROM ins)
  RETURNING id, progress
)
SELECT json_build_object('data', json_build_object('reportActivity', json_build_object(
  'activity', json_build_object('id', bench_gid('Activity', ins.id)),
  'task', json_build_object('progress', up.progress),
  'created', true)))::text
FROM ins, up
