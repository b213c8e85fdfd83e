DROP TRIGGER rollup_activity_totals_on_insert ON activities;
-- statement
DROP FUNCTION rollup_activity_totals_on_insert();
-- statement
DROP TRIGGER rollup_activities_on_insert ON activities;
-- statement
DROP FUNCTION rollup_activities_on_insert();
-- statement
CREATE FUNCTION rollup_activities_on_insert() RETURNS trigger LANGUAGE plpgsql AS $body$ DECLARE v_unit BIGINT; v_kind TEXT; v_day DATE; BEGIN SELECT g.unit_id, COALESCE(t.kind, 'WALK_IN'), CAST((NEW.occurred_at AT TIME ZONE 'UTC') + INTERVAL '7 hours' AS DATE) INTO v_unit, v_kind, v_day FROM groups g LEFT JOIN tasks t ON t.id = NEW.task_id WHERE g.id = NEW.group_id; INSERT INTO rollup_activities (unit_id, own, task_kind, day, n, residents_helped, vneid_activations) SELECT a.anchor_unit_id, a.own, v_kind, v_day, 1, NEW.residents_helped, NEW.vneid_activations FROM rollup_anchors a WHERE a.unit_id = v_unit ORDER BY a.anchor_unit_id, a.own ON CONFLICT (unit_id, own, task_kind, day) DO UPDATE SET n = rollup_activities.n + excluded.n, residents_helped = rollup_activities.residents_helped + excluded.residents_helped, vneid_activations = rollup_activities.vneid_activations + excluded.vneid_activations; INSERT INTO rollup_activity_totals (unit_id, own, task_kind, n, residents_helped, vneid_activations) SELECT a.anchor_unit_id, a.own, v_kind, 1, NEW.residents_helped, NEW.vneid_activations FROM rollup_anchors a WHERE a.unit_id = v_unit ORDER BY a.anchor_unit_id, a.own ON CONFLICT (unit_id, own, task_kind) DO UPDATE SET n = rollup_activity_totals.n + excluded.n, residents_helped = rollup_activity_totals.residents_helped + excluded.residents_helped, vneid_activations = rollup_activity_totals.vneid_activations + excluded.vneid_activations; RETURN NULL; END $body$;
-- statement
CREATE TRIGGER rollup_activities_on_insert AFTER INSERT ON activities FOR EACH ROW EXECUTE FUNCTION rollup_activities_on_insert();
