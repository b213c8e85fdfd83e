DROP TRIGGER IF EXISTS rollup_groups_on_insert ON groups;
-- statement
DROP FUNCTION IF EXISTS rollup_groups_on_insert();
-- statement
DROP TRIGGER IF EXISTS rollup_groups_on_delete ON groups;
-- statement
DROP FUNCTION IF EXISTS rollup_groups_on_delete();
-- statement
DROP TRIGGER IF EXISTS rollup_groups_on_update ON groups;
-- statement
DROP FUNCTION IF EXISTS rollup_groups_on_update();
-- statement
DROP TRIGGER IF EXISTS rollup_members_on_insert ON members;
-- statement
DROP FUNCTION IF EXISTS rollup_members_on_insert();
-- statement
DROP TRIGGER IF EXISTS rollup_members_on_delete ON members;
-- statement
DROP FUNCTION IF EXISTS rollup_members_on_delete();
-- statement
DROP TRIGGER IF EXISTS rollup_members_on_update ON members;
-- statement
DROP FUNCTION IF EXISTS rollup_members_on_update();
-- statement
DROP TRIGGER IF EXISTS rollup_tasks_on_insert ON tasks;
-- statement
DROP FUNCTION IF EXISTS rollup_tasks_on_insert();
-- statement
DROP TRIGGER IF EXISTS rollup_tasks_on_delete ON tasks;
-- statement
DROP FUNCTION IF EXISTS rollup_tasks_on_delete();
-- statement
DROP TRIGGER IF EXISTS rollup_tasks_on_update ON tasks;
-- statement
DROP FUNCTION IF EXISTS rollup_tasks_on_update();
-- statement
DROP TRIGGER IF EXISTS rollup_task_totals_on_insert ON tasks;
-- statement
DROP FUNCTION IF EXISTS rollup_task_totals_on_insert();
-- statement
DROP TRIGGER IF EXISTS rollup_task_totals_on_delete ON tasks;
-- statement
DROP FUNCTION IF EXISTS rollup_task_totals_on_delete();
-- statement
DROP TRIGGER IF EXISTS rollup_task_totals_on_update ON tasks;
-- statement
DROP FUNCTION IF EXISTS rollup_task_totals_on_update();
-- statement
DROP TRIGGER IF EXISTS rollup_activities_on_insert ON activities;
-- statement
DROP FUNCTION IF EXISTS rollup_activities_on_insert();
-- statement
DROP TRIGGER IF EXISTS rollup_activities_on_delete ON activities;
-- statement
DROP FUNCTION IF EXISTS rollup_activities_on_delete();
-- statement
DROP TRIGGER IF EXISTS rollup_activities_on_update ON activities;
-- statement
DROP FUNCTION IF EXISTS rollup_activities_on_update();
-- statement
DROP TRIGGER IF EXISTS rollup_activity_totals_on_insert ON activities;
-- statement
DROP FUNCTION IF EXISTS rollup_activity_totals_on_insert();
-- statement
DROP TRIGGER IF EXISTS rollup_activity_totals_on_delete ON activities;
-- statement
DROP FUNCTION IF EXISTS rollup_activity_totals_on_delete();
-- statement
DROP TRIGGER IF EXISTS rollup_activity_totals_on_update ON activities;
-- statement
DROP FUNCTION IF EXISTS rollup_activity_totals_on_update();
-- statement
DROP TRIGGER IF EXISTS rollup_outcomes_on_insert ON activity_outcomes;
-- statement
DROP FUNCTION IF EXISTS rollup_outcomes_on_insert();
-- statement
DROP TRIGGER IF EXISTS rollup_outcomes_on_delete ON activity_outcomes;
-- statement
DROP FUNCTION IF EXISTS rollup_outcomes_on_delete();
-- statement
DROP TRIGGER IF EXISTS rollup_outcomes_on_update ON activity_outcomes;
-- statement
DROP FUNCTION IF EXISTS rollup_outcomes_on_update();
-- statement
DROP TRIGGER IF EXISTS rollup_outcome_totals_on_insert ON activity_outcomes;
-- statement
DROP FUNCTION IF EXISTS rollup_outcome_totals_on_insert();
-- statement
DROP TRIGGER IF EXISTS rollup_outcome_totals_on_delete ON activity_outcomes;
-- statement
DROP FUNCTION IF EXISTS rollup_outcome_totals_on_delete();
-- statement
DROP TRIGGER IF EXISTS rollup_outcome_totals_on_update ON activity_outcomes;
-- statement
DROP FUNCTION IF EXISTS rollup_outcome_totals_on_update();
-- statement
DROP TRIGGER IF EXISTS rollup_products_on_insert ON products;
-- statement
DROP FUNCTION IF EXISTS rollup_products_on_insert();
-- statement
DROP TRIGGER IF EXISTS rollup_products_on_delete ON products;
-- statement
DROP FUNCTION IF EXISTS rollup_products_on_delete();
-- statement
DROP TRIGGER IF EXISTS rollup_products_on_update ON products;
-- statement
DROP FUNCTION IF EXISTS rollup_products_on_update();
-- statement
DROP TRIGGER IF EXISTS rollup_listings_on_insert ON listings;
-- statement
DROP FUNCTION IF EXISTS rollup_listings_on_insert();
-- statement
DROP TRIGGER IF EXISTS rollup_listings_on_delete ON listings;
-- statement
DROP FUNCTION IF EXISTS rollup_listings_on_delete();
-- statement
DROP TRIGGER IF EXISTS rollup_listings_on_update ON listings;
-- statement
DROP FUNCTION IF EXISTS rollup_listings_on_update();
-- statement
DROP TRIGGER IF EXISTS rollup_group_moves ON groups;
-- statement
DROP FUNCTION IF EXISTS rollup_group_moves();
-- statement
DROP TRIGGER IF EXISTS rollup_product_moves ON products;
-- statement
DROP FUNCTION IF EXISTS rollup_product_moves();
-- statement
DROP TRIGGER IF EXISTS rollup_product_archivals ON products;
-- statement
DROP FUNCTION IF EXISTS rollup_product_archivals();
-- statement
DROP TRIGGER IF EXISTS rollup_task_kind_changes ON tasks;
-- statement
DROP FUNCTION IF EXISTS rollup_task_kind_changes();
-- statement
DROP TRIGGER IF EXISTS rollup_activity_moves ON activities;
-- statement
DROP FUNCTION IF EXISTS rollup_activity_moves();
-- statement
DROP TRIGGER IF EXISTS rollup_anchors_on_insert ON admin_units;
-- statement
DROP FUNCTION IF EXISTS rollup_anchors_on_insert();
-- statement
DROP TABLE rollup_outcome_totals;
-- statement
DROP TABLE rollup_outcomes;
-- statement
ALTER TABLE memberships DROP COLUMN updated_at;
-- statement
ALTER TABLE listings DROP COLUMN archived_at;
-- statement
ALTER TABLE products DROP COLUMN archived_at;
-- statement
ALTER TABLE products DROP COLUMN description;
-- statement
ALTER TABLE products DROP COLUMN price_vnd;
-- statement
ALTER TABLE activity_revisions ALTER COLUMN task_id SET NOT NULL;
-- statement
ALTER TABLE activities ALTER COLUMN task_id SET NOT NULL;
-- statement
CREATE FUNCTION rollup_groups_on_insert() RETURNS trigger LANGUAGE plpgsql AS $body$ BEGIN INSERT INTO rollup_groups (unit_id, own, kind, status, n) SELECT a.anchor_unit_id, a.own, s.kind, s.status, SUM(s.n) FROM (SELECT NEW.unit_id AS unit_id, NEW.kind AS kind, NEW.status AS status, 1 AS n) s JOIN rollup_anchors a ON a.unit_id = s.unit_id WHERE 1 = 1 GROUP BY a.anchor_unit_id, a.own, s.kind, s.status ORDER BY a.anchor_unit_id, a.own, s.kind, s.status ON CONFLICT (unit_id, own, kind, status) DO UPDATE SET n = rollup_groups.n + excluded.n; RETURN NULL; END $body$;
-- statement
CREATE TRIGGER rollup_groups_on_insert AFTER INSERT ON groups FOR EACH ROW EXECUTE FUNCTION rollup_groups_on_insert();
-- statement
CREATE FUNCTION rollup_groups_on_delete() RETURNS trigger LANGUAGE plpgsql AS $body$ BEGIN INSERT INTO rollup_groups (unit_id, own, kind, status, n) SELECT a.anchor_unit_id, a.own, s.kind, s.status, -SUM(s.n) FROM (SELECT OLD.unit_id AS unit_id, OLD.kind AS kind, OLD.status AS status, 1 AS n) s JOIN rollup_anchors a ON a.unit_id = s.unit_id WHERE 1 = 1 GROUP BY a.anchor_unit_id, a.own, s.kind, s.status ORDER BY a.anchor_unit_id, a.own, s.kind, s.status ON CONFLICT (unit_id, own, kind, status) DO UPDATE SET n = rollup_groups.n + excluded.n; RETURN NULL; END $body$;
-- statement
CREATE TRIGGER rollup_groups_on_delete AFTER DELETE ON groups FOR EACH ROW EXECUTE FUNCTION rollup_groups_on_delete();
-- statement
CREATE FUNCTION rollup_groups_on_update() RETURNS trigger LANGUAGE plpgsql AS $body$ BEGIN INSERT INTO rollup_groups (unit_id, own, kind, status, n) SELECT a.anchor_unit_id, a.own, s.kind, s.status, -SUM(s.n) FROM (SELECT OLD.unit_id AS unit_id, OLD.kind AS kind, OLD.status AS status, 1 AS n) s JOIN rollup_anchors a ON a.unit_id = s.unit_id WHERE 1 = 1 GROUP BY a.anchor_unit_id, a.own, s.kind, s.status ORDER BY a.anchor_unit_id, a.own, s.kind, s.status ON CONFLICT (unit_id, own, kind, status) DO UPDATE SET n = rollup_groups.n + excluded.n; INSERT INTO rollup_groups (unit_id, own, kind, status, n) SELECT a.anchor_unit_id, a.own, s.kind, s.status, SUM(s.n) FROM (SELECT NEW.unit_id AS unit_id, NEW.kind AS kind, NEW.status AS status, 1 AS n) s JOIN rollup_anchors a ON a.unit_id = s.unit_id WHERE 1 = 1 GROUP BY a.anchor_unit_id, a.own, s.kind, s.status ORDER BY a.anchor_unit_id, a.own, s.kind, s.status ON CONFLICT (unit_id, own, kind, status) DO UPDATE SET n = rollup_groups.n + excluded.n; RETURN NULL; END $body$;
-- statement
CREATE TRIGGER rollup_groups_on_update AFTER UPDATE OF unit_id, kind, status ON groups FOR EACH ROW EXECUTE FUNCTION rollup_groups_on_update();
-- statement
CREATE FUNCTION rollup_members_on_insert() RETURNS trigger LANGUAGE plpgsql AS $body$ BEGIN INSERT INTO rollup_members (unit_id, own, affiliation, trained, n) SELECT a.anchor_unit_id, a.own, s.affiliation, s.trained, SUM(s.n) FROM (SELECT NEW.unit_id AS unit_id, NEW.affiliation AS affiliation, CASE WHEN NEW.trained_on IS NULL THEN 0 ELSE 1 END AS trained, 1 AS n) s JOIN rollup_anchors a ON a.unit_id = s.unit_id WHERE 1 = 1 GROUP BY a.anchor_unit_id, a.own, s.affiliation, s.trained ORDER BY a.anchor_unit_id, a.own, s.affiliation, s.trained ON CONFLICT (unit_id, own, affiliation, trained) DO UPDATE SET n = rollup_members.n + excluded.n; RETURN NULL; END $body$;
-- statement
CREATE TRIGGER rollup_members_on_insert AFTER INSERT ON members FOR EACH ROW EXECUTE FUNCTION rollup_members_on_insert();
-- statement
CREATE FUNCTION rollup_members_on_delete() RETURNS trigger LANGUAGE plpgsql AS $body$ BEGIN INSERT INTO rollup_members (unit_id, own, affiliation, trained, n) SELECT a.anchor_unit_id, a.own, s.affiliation, s.trained, -SUM(s.n) FROM (SELECT OLD.unit_id AS unit_id, OLD.affiliation AS affiliation, CASE WHEN OLD.trained_on IS NULL THEN 0 ELSE 1 END AS trained, 1 AS n) s JOIN rollup_anchors a ON a.unit_id = s.unit_id WHERE 1 = 1 GROUP BY a.anchor_unit_id, a.own, s.affiliation, s.trained ORDER BY a.anchor_unit_id, a.own, s.affiliation, s.trained ON CONFLICT (unit_id, own, affiliation, trained) DO UPDATE SET n = rollup_members.n + excluded.n; RETURN NULL; END $body$;
-- statement
CREATE TRIGGER rollup_members_on_delete AFTER DELETE ON members FOR EACH ROW EXECUTE FUNCTION rollup_members_on_delete();
-- statement
CREATE FUNCTION rollup_members_on_update() RETURNS trigger LANGUAGE plpgsql AS $body$ BEGIN INSERT INTO rollup_members (unit_id, own, affiliation, trained, n) SELECT a.anchor_unit_id, a.own, s.affiliation, s.trained, -SUM(s.n) FROM (SELECT OLD.unit_id AS unit_id, OLD.affiliation AS affiliation, CASE WHEN OLD.trained_on IS NULL THEN 0 ELSE 1 END AS trained, 1 AS n) s JOIN rollup_anchors a ON a.unit_id = s.unit_id WHERE 1 = 1 GROUP BY a.anchor_unit_id, a.own, s.affiliation, s.trained ORDER BY a.anchor_unit_id, a.own, s.affiliation, s.trained ON CONFLICT (unit_id, own, affiliation, trained) DO UPDATE SET n = rollup_members.n + excluded.n; INSERT INTO rollup_members (unit_id, own, affiliation, trained, n) SELECT a.anchor_unit_id, a.own, s.affiliation, s.trained, SUM(s.n) FROM (SELECT NEW.unit_id AS unit_id, NEW.affiliation AS affiliation, CASE WHEN NEW.trained_on IS NULL THEN 0 ELSE 1 END AS trained, 1 AS n) s JOIN rollup_anchors a ON a.unit_id = s.unit_id WHERE 1 = 1 GROUP BY a.anchor_unit_id, a.own, s.affiliation, s.trained ORDER BY a.anchor_unit_id, a.own, s.affiliation, s.trained ON CONFLICT (unit_id, own, affiliation, trained) DO UPDATE SET n = rollup_members.n + excluded.n; RETURN NULL; END $body$;
-- statement
CREATE TRIGGER rollup_members_on_update AFTER UPDATE OF unit_id, affiliation, trained_on ON members FOR EACH ROW EXECUTE FUNCTION rollup_members_on_update();
-- statement
CREATE FUNCTION rollup_tasks_on_insert() RETURNS trigger LANGUAGE plpgsql AS $body$ BEGIN INSERT INTO rollup_tasks (unit_id, own, status, kind, due_on, n) SELECT a.anchor_unit_id, a.own, s.status, s.kind, s.due_on, SUM(s.n) FROM (SELECT g.unit_id AS unit_id, NEW.status AS status, NEW.kind AS kind, COALESCE(NEW.due_on, '9999-12-31') AS due_on, 1 AS n FROM groups g WHERE g.id = NEW.group_id) s JOIN rollup_anchors a ON a.unit_id = s.unit_id WHERE 1 = 1 GROUP BY a.anchor_unit_id, a.own, s.status, s.kind, s.due_on ORDER BY a.anchor_unit_id, a.own, s.status, s.kind, s.due_on ON CONFLICT (unit_id, own, status, kind, due_on) DO UPDATE SET n = rollup_tasks.n + excluded.n; RETURN NULL; END $body$;
-- statement
CREATE TRIGGER rollup_tasks_on_insert AFTER INSERT ON tasks FOR EACH ROW EXECUTE FUNCTION rollup_tasks_on_insert();
-- statement
CREATE FUNCTION rollup_tasks_on_delete() RETURNS trigger LANGUAGE plpgsql AS $body$ BEGIN INSERT INTO rollup_tasks (unit_id, own, status, kind, due_on, n) SELECT a.anchor_unit_id, a.own, s.status, s.kind, s.due_on, -SUM(s.n) FROM (SELECT g.unit_id AS unit_id, OLD.status AS status, OLD.kind AS kind, COALESCE(OLD.due_on, '9999-12-31') AS due_on, 1 AS n FROM groups g WHERE g.id = OLD.group_id) s JOIN rollup_anchors a ON a.unit_id = s.unit_id WHERE 1 = 1 GROUP BY a.anchor_unit_id, a.own, s.status, s.kind, s.due_on ORDER BY a.anchor_unit_id, a.own, s.status, s.kind, s.due_on ON CONFLICT (unit_id, own, status, kind, due_on) DO UPDATE SET n = rollup_tasks.n + excluded.n; RETURN NULL; END $body$;
-- statement
CREATE TRIGGER rollup_tasks_on_delete AFTER DELETE ON tasks FOR EACH ROW EXECUTE FUNCTION rollup_tasks_on_delete();
-- statement
CREATE FUNCTION rollup_tasks_on_update() RETURNS trigger LANGUAGE plpgsql AS $body$ BEGIN INSERT INTO rollup_tasks (unit_id, own, status, kind, due_on, n) SELECT a.anchor_unit_id, a.own, s.status, s.kind, s.due_on, -SUM(s.n) FROM (SELECT g.unit_id AS unit_id, OLD.status AS status, OLD.kind AS kind, COALESCE(OLD.due_on, '9999-12-31') AS due_on, 1 AS n FROM groups g WHERE g.id = OLD.group_id) s JOIN rollup_anchors a ON a.unit_id = s.unit_id WHERE 1 = 1 GROUP BY a.anchor_unit_id, a.own, s.status, s.kind, s.due_on ORDER BY a.anchor_unit_id, a.own, s.status, s.kind, s.due_on ON CONFLICT (unit_id, own, status, kind, due_on) DO UPDATE SET n = rollup_tasks.n + excluded.n; INSERT INTO rollup_tasks (unit_id, own, status, kind, due_on, n) SELECT a.anchor_unit_id, a.own, s.status, s.kind, s.due_on, SUM(s.n) FROM (SELECT g.unit_id AS unit_id, NEW.status AS status, NEW.kind AS kind, COALESCE(NEW.due_on, '9999-12-31') AS due_on, 1 AS n FROM groups g WHERE g.id = NEW.group_id) s JOIN rollup_anchors a ON a.unit_id = s.unit_id WHERE 1 = 1 GROUP BY a.anchor_unit_id, a.own, s.status, s.kind, s.due_on ORDER BY a.anchor_unit_id, a.own, s.status, s.kind, s.due_on ON CONFLICT (unit_id, own, status, kind, due_on) DO UPDATE SET n = rollup_tasks.n + excluded.n; RETURN NULL; END $body$;
-- statement
CREATE TRIGGER rollup_tasks_on_update AFTER UPDATE OF group_id, status, kind, due_on ON tasks FOR EACH ROW EXECUTE FUNCTION rollup_tasks_on_update();
-- statement
CREATE FUNCTION rollup_task_totals_on_insert() RETURNS trigger LANGUAGE plpgsql AS $body$ BEGIN INSERT INTO rollup_task_totals (unit_id, own, status, kind, n) SELECT a.anchor_unit_id, a.own, s.status, s.kind, SUM(s.n) FROM (SELECT g.unit_id AS unit_id, NEW.status AS status, NEW.kind AS kind, 1 AS n FROM groups g WHERE g.id = NEW.group_id) s JOIN rollup_anchors a ON a.unit_id = s.unit_id WHERE 1 = 1 GROUP BY a.anchor_unit_id, a.own, s.status, s.kind ORDER BY a.anchor_unit_id, a.own, s.status, s.kind ON CONFLICT (unit_id, own, status, kind) DO UPDATE SET n = rollup_task_totals.n + excluded.n; RETURN NULL; END $body$;
-- statement
CREATE TRIGGER rollup_task_totals_on_insert AFTER INSERT ON tasks FOR EACH ROW EXECUTE FUNCTION rollup_task_totals_on_insert();
-- statement
CREATE FUNCTION rollup_task_totals_on_delete() RETURNS trigger LANGUAGE plpgsql AS $body$ BEGIN INSERT INTO rollup_task_totals (unit_id, own, status, kind, n) SELECT a.anchor_unit_id, a.own, s.status, s.kind, -SUM(s.n) FROM (SELECT g.unit_id AS unit_id, OLD.status AS status, OLD.kind AS kind, 1 AS n FROM groups g WHERE g.id = OLD.group_id) s JOIN rollup_anchors a ON a.unit_id = s.unit_id WHERE 1 = 1 GROUP BY a.anchor_unit_id, a.own, s.status, s.kind ORDER BY a.anchor_unit_id, a.own, s.status, s.kind ON CONFLICT (unit_id, own, status, kind) DO UPDATE SET n = rollup_task_totals.n + excluded.n; RETURN NULL; END $body$;
-- statement
CREATE TRIGGER rollup_task_totals_on_delete AFTER DELETE ON tasks FOR EACH ROW EXECUTE FUNCTION rollup_task_totals_on_delete();
-- statement
CREATE FUNCTION rollup_task_totals_on_update() RETURNS trigger LANGUAGE plpgsql AS $body$ BEGIN INSERT INTO rollup_task_totals (unit_id, own, status, kind, n) SELECT a.anchor_unit_id, a.own, s.status, s.kind, -SUM(s.n) FROM (SELECT g.unit_id AS unit_id, OLD.status AS status, OLD.kind AS kind, 1 AS n FROM groups g WHERE g.id = OLD.group_id) s JOIN rollup_anchors a ON a.unit_id = s.unit_id WHERE 1 = 1 GROUP BY a.anchor_unit_id, a.own, s.status, s.kind ORDER BY a.anchor_unit_id, a.own, s.status, s.kind ON CONFLICT (unit_id, own, status, kind) DO UPDATE SET n = rollup_task_totals.n + excluded.n; INSERT INTO rollup_task_totals (unit_id, own, status, kind, n) SELECT a.anchor_unit_id, a.own, s.status, s.kind, SUM(s.n) FROM (SELECT g.unit_id AS unit_id, NEW.status AS status, NEW.kind AS kind, 1 AS n FROM groups g WHERE g.id = NEW.group_id) s JOIN rollup_anchors a ON a.unit_id = s.unit_id WHERE 1 = 1 GROUP BY a.anchor_unit_id, a.own, s.status, s.kind ORDER BY a.anchor_unit_id, a.own, s.status, s.kind ON CONFLICT (unit_id, own, status, kind) DO UPDATE SET n = rollup_task_totals.n + excluded.n; RETURN NULL; END $body$;
-- statement
CREATE TRIGGER rollup_task_totals_on_update AFTER UPDATE OF group_id, status, kind ON tasks FOR EACH ROW EXECUTE FUNCTION rollup_task_totals_on_update();
-- statement
CREATE FUNCTION rollup_activities_on_insert() RETURNS trigger LANGUAGE plpgsql AS $body$ BEGIN INSERT INTO rollup_activities (unit_id, own, task_kind, day, n, residents_helped, vneid_activations) SELECT a.anchor_unit_id, a.own, s.task_kind, s.day, SUM(s.n), SUM(s.residents_helped), SUM(s.vneid_activations) FROM (SELECT g.unit_id AS unit_id, t.kind AS task_kind, CAST((NEW.occurred_at AT TIME ZONE 'UTC') + INTERVAL '7 hours' AS DATE) AS day, 1 AS n, NEW.residents_helped AS residents_helped, NEW.vneid_activations AS vneid_activations FROM groups g, tasks t WHERE g.id = NEW.group_id AND t.id = NEW.task_id) s JOIN rollup_anchors a ON a.unit_id = s.unit_id WHERE 1 = 1 GROUP BY a.anchor_unit_id, a.own, s.task_kind, s.day ORDER BY a.anchor_unit_id, a.own, s.task_kind, s.day ON CONFLICT (unit_id, own, task_kind, day) DO UPDATE SET n = rollup_activities.n + excluded.n, residents_helped = rollup_activities.residents_helped + excluded.residents_helped, vneid_activations = rollup_activities.vneid_activations + excluded.vneid_activations; RETURN NULL; END $body$;
-- statement
CREATE TRIGGER rollup_activities_on_insert AFTER INSERT ON activities FOR EACH ROW EXECUTE FUNCTION rollup_activities_on_insert();
-- statement
CREATE FUNCTION rollup_activities_on_delete() RETURNS trigger LANGUAGE plpgsql AS $body$ BEGIN INSERT INTO rollup_activities (unit_id, own, task_kind, day, n, residents_helped, vneid_activations) SELECT a.anchor_unit_id, a.own, s.task_kind, s.day, -SUM(s.n), -SUM(s.residents_helped), -SUM(s.vneid_activations) FROM (SELECT g.unit_id AS unit_id, t.kind AS task_kind, CAST((OLD.occurred_at AT TIME ZONE 'UTC') + INTERVAL '7 hours' AS DATE) AS day, 1 AS n, OLD.residents_helped AS residents_helped, OLD.vneid_activations AS vneid_activations FROM groups g, tasks t WHERE g.id = OLD.group_id AND t.id = OLD.task_id) s JOIN rollup_anchors a ON a.unit_id = s.unit_id WHERE 1 = 1 GROUP BY a.anchor_unit_id, a.own, s.task_kind, s.day ORDER BY a.anchor_unit_id, a.own, s.task_kind, s.day ON CONFLICT (unit_id, own, task_kind, day) DO UPDATE SET n = rollup_activities.n + excluded.n, residents_helped = rollup_activities.residents_helped + excluded.residents_helped, vneid_activations = rollup_activities.vneid_activations + excluded.vneid_activations; RETURN NULL; END $body$;
-- statement
CREATE TRIGGER rollup_activities_on_delete AFTER DELETE ON activities FOR EACH ROW EXECUTE FUNCTION rollup_activities_on_delete();
-- statement
CREATE FUNCTION rollup_activities_on_update() RETURNS trigger LANGUAGE plpgsql AS $body$ BEGIN INSERT INTO rollup_activities (unit_id, own, task_kind, day, n, residents_helped, vneid_activations) SELECT a.anchor_unit_id, a.own, s.task_kind, s.day, -SUM(s.n), -SUM(s.residents_helped), -SUM(s.vneid_activations) FROM (SELECT g.unit_id AS unit_id, t.kind AS task_kind, CAST((OLD.occurred_at AT TIME ZONE 'UTC') + INTERVAL '7 hours' AS DATE) AS day, 1 AS n, OLD.residents_helped AS residents_helped, OLD.vneid_activations AS vneid_activations FROM groups g, tasks t WHERE g.id = OLD.group_id AND t.id = OLD.task_id) s JOIN rollup_anchors a ON a.unit_id = s.unit_id WHERE 1 = 1 GROUP BY a.anchor_unit_id, a.own, s.task_kind, s.day ORDER BY a.anchor_unit_id, a.own, s.task_kind, s.day ON CONFLICT (unit_id, own, task_kind, day) DO UPDATE SET n = rollup_activities.n + excluded.n, residents_helped = rollup_activities.residents_helped + excluded.residents_helped, vneid_activations = rollup_activities.vneid_activations + excluded.vneid_activations; INSERT INTO rollup_activities (unit_id, own, task_kind, day, n, residents_helped, vneid_activations) SELECT a.anchor_unit_id, a.own, s.task_kind, s.day, SUM(s.n), SUM(s.residents_helped), SUM(s.vneid_activations) FROM (SELECT g.unit_id AS unit_id, t.kind AS task_kind, CAST((NEW.occurred_at AT TIME ZONE 'UTC') + INTERVAL '7 hours' AS DATE) AS day, 1 AS n, NEW.residents_helped AS residents_helped, NEW.vneid_activations AS vneid_activations FROM groups g, tasks t WHERE g.id = NEW.group_id AND t.id = NEW.task_id) s JOIN rollup_anchors a ON a.unit_id = s.unit_id WHERE 1 = 1 GROUP BY a.anchor_unit_id, a.own, s.task_kind, s.day ORDER BY a.anchor_unit_id, a.own, s.task_kind, s.day ON CONFLICT (unit_id, own, task_kind, day) DO UPDATE SET n = rollup_activities.n + excluded.n, residents_helped = rollup_activities.residents_helped + excluded.residents_helped, vneid_activations = rollup_activities.vneid_activations + excluded.vneid_activations; RETURN NULL; END $body$;
-- statement
CREATE TRIGGER rollup_activities_on_update AFTER UPDATE OF group_id, task_id, occurred_at, residents_helped, vneid_activations ON activities FOR EACH ROW EXECUTE FUNCTION rollup_activities_on_update();
-- statement
CREATE FUNCTION rollup_activity_totals_on_insert() RETURNS trigger LANGUAGE plpgsql AS $body$ BEGIN INSERT INTO rollup_activity_totals (unit_id, own, task_kind, n, residents_helped, vneid_activations) SELECT a.anchor_unit_id, a.own, s.task_kind, SUM(s.n), SUM(s.residents_helped), SUM(s.vneid_activations) FROM (SELECT g.unit_id AS unit_id, t.kind AS task_kind, 1 AS n, NEW.residents_helped AS residents_helped, NEW.vneid_activations AS vneid_activations FROM groups g, tasks t WHERE g.id = NEW.group_id AND t.id = NEW.task_id) s JOIN rollup_anchors a ON a.unit_id = s.unit_id WHERE 1 = 1 GROUP BY a.anchor_unit_id, a.own, s.task_kind ORDER BY a.anchor_unit_id, a.own, s.task_kind ON CONFLICT (unit_id, own, task_kind) DO UPDATE SET n = rollup_activity_totals.n + excluded.n, residents_helped = rollup_activity_totals.residents_helped + excluded.residents_helped, vneid_activations = rollup_activity_totals.vneid_activations + excluded.vneid_activations; RETURN NULL; END $body$;
-- statement
CREATE TRIGGER rollup_activity_totals_on_insert AFTER INSERT ON activities FOR EACH ROW EXECUTE FUNCTION rollup_activity_totals_on_insert();
-- statement
CREATE FUNCTION rollup_activity_totals_on_delete() RETURNS trigger LANGUAGE plpgsql AS $body$ BEGIN INSERT INTO rollup_activity_totals (unit_id, own, task_kind, n, residents_helped, vneid_activations) SELECT a.anchor_unit_id, a.own, s.task_kind, -SUM(s.n), -SUM(s.residents_helped), -SUM(s.vneid_activations) FROM (SELECT g.unit_id AS unit_id, t.kind AS task_kind, 1 AS n, OLD.residents_helped AS residents_helped, OLD.vneid_activations AS vneid_activations FROM groups g, tasks t WHERE g.id = OLD.group_id AND t.id = OLD.task_id) s JOIN rollup_anchors a ON a.unit_id = s.unit_id WHERE 1 = 1 GROUP BY a.anchor_unit_id, a.own, s.task_kind ORDER BY a.anchor_unit_id, a.own, s.task_kind ON CONFLICT (unit_id, own, task_kind) DO UPDATE SET n = rollup_activity_totals.n + excluded.n, residents_helped = rollup_activity_totals.residents_helped + excluded.residents_helped, vneid_activations = rollup_activity_totals.vneid_activations + excluded.vneid_activations; RETURN NULL; END $body$;
-- statement
CREATE TRIGGER rollup_activity_totals_on_delete AFTER DELETE ON activities FOR EACH ROW EXECUTE FUNCTION rollup_activity_totals_on_delete();
-- statement
CREATE FUNCTION rollup_activity_totals_on_update() RETURNS trigger LANGUAGE plpgsql AS $body$ BEGIN INSERT INTO rollup_activity_totals (unit_id, own, task_kind, n, residents_helped, vneid_activations) SELECT a.anchor_unit_id, a.own, s.task_kind, -SUM(s.n), -SUM(s.residents_helped), -SUM(s.vneid_activations) FROM (SELECT g.unit_id AS unit_id, t.kind AS task_kind, 1 AS n, OLD.residents_helped AS residents_helped, OLD.vneid_activations AS vneid_activations FROM groups g, tasks t WHERE g.id = OLD.group_id AND t.id = OLD.task_id) s JOIN rollup_anchors a ON a.unit_id = s.unit_id WHERE 1 = 1 GROUP BY a.anchor_unit_id, a.own, s.task_kind ORDER BY a.anchor_unit_id, a.own, s.task_kind ON CONFLICT (unit_id, own, task_kind) DO UPDATE SET n = rollup_activity_totals.n + excluded.n, residents_helped = rollup_activity_totals.residents_helped + excluded.residents_helped, vneid_activations = rollup_activity_totals.vneid_activations + excluded.vneid_activations; INSERT INTO rollup_activity_totals (unit_id, own, task_kind, n, residents_helped, vneid_activations) SELECT a.anchor_unit_id, a.own, s.task_kind, SUM(s.n), SUM(s.residents_helped), SUM(s.vneid_activations) FROM (SELECT g.unit_id AS unit_id, t.kind AS task_kind, 1 AS n, NEW.residents_helped AS residents_helped, NEW.vneid_activations AS vneid_activations FROM groups g, tasks t WHERE g.id = NEW.group_id AND t.id = NEW.task_id) s JOIN rollup_anchors a ON a.unit_id = s.unit_id WHERE 1 = 1 GROUP BY a.anchor_unit_id, a.own, s.task_kind ORDER BY a.anchor_unit_id, a.own, s.task_kind ON CONFLICT (unit_id, own, task_kind) DO UPDATE SET n = rollup_activity_totals.n + excluded.n, residents_helped = rollup_activity_totals.residents_helped + excluded.residents_helped, vneid_activations = rollup_activity_totals.vneid_activations + excluded.vneid_activations; RETURN NULL; END $body$;
-- statement
CREATE TRIGGER rollup_activity_totals_on_update AFTER UPDATE OF group_id, task_id, residents_helped, vneid_activations ON activities FOR EACH ROW EXECUTE FUNCTION rollup_activity_totals_on_update();
-- statement
CREATE FUNCTION rollup_products_on_insert() RETURNS trigger LANGUAGE plpgsql AS $body$ BEGIN INSERT INTO rollup_products (unit_id, own, n) SELECT a.anchor_unit_id, a.own, SUM(s.n) FROM (SELECT g.unit_id AS unit_id, 1 AS n FROM groups g WHERE g.id = NEW.group_id) s JOIN rollup_anchors a ON a.unit_id = s.unit_id WHERE 1 = 1 GROUP BY a.anchor_unit_id, a.own ORDER BY a.anchor_unit_id, a.own ON CONFLICT (unit_id, own) DO UPDATE SET n = rollup_products.n + excluded.n; RETURN NULL; END $body$;
-- statement
CREATE TRIGGER rollup_products_on_insert AFTER INSERT ON products FOR EACH ROW EXECUTE FUNCTION rollup_products_on_insert();
-- statement
CREATE FUNCTION rollup_products_on_delete() RETURNS trigger LANGUAGE plpgsql AS $body$ BEGIN INSERT INTO rollup_products (unit_id, own, n) SELECT a.anchor_unit_id, a.own, -SUM(s.n) FROM (SELECT g.unit_id AS unit_id, 1 AS n FROM groups g WHERE g.id = OLD.group_id) s JOIN rollup_anchors a ON a.unit_id = s.unit_id WHERE 1 = 1 GROUP BY a.anchor_unit_id, a.own ORDER BY a.anchor_unit_id, a.own ON CONFLICT (unit_id, own) DO UPDATE SET n = rollup_products.n + excluded.n; RETURN NULL; END $body$;
-- statement
CREATE TRIGGER rollup_products_on_delete AFTER DELETE ON products FOR EACH ROW EXECUTE FUNCTION rollup_products_on_delete();
-- statement
CREATE FUNCTION rollup_products_on_update() RETURNS trigger LANGUAGE plpgsql AS $body$ BEGIN INSERT INTO rollup_products (unit_id, own, n) SELECT a.anchor_unit_id, a.own, -SUM(s.n) FROM (SELECT g.unit_id AS unit_id, 1 AS n FROM groups g WHERE g.id = OLD.group_id) s JOIN rollup_anchors a ON a.unit_id = s.unit_id WHERE 1 = 1 GROUP BY a.anchor_unit_id, a.own ORDER BY a.anchor_unit_id, a.own ON CONFLICT (unit_id, own) DO UPDATE SET n = rollup_products.n + excluded.n; INSERT INTO rollup_products (unit_id, own, n) SELECT a.anchor_unit_id, a.own, SUM(s.n) FROM (SELECT g.unit_id AS unit_id, 1 AS n FROM groups g WHERE g.id = NEW.group_id) s JOIN rollup_anchors a ON a.unit_id = s.unit_id WHERE 1 = 1 GROUP BY a.anchor_unit_id, a.own ORDER BY a.anchor_unit_id, a.own ON CONFLICT (unit_id, own) DO UPDATE SET n = rollup_products.n + excluded.n; RETURN NULL; END $body$;
-- statement
CREATE TRIGGER rollup_products_on_update AFTER UPDATE OF group_id ON products FOR EACH ROW EXECUTE FUNCTION rollup_products_on_update();
-- statement
CREATE FUNCTION rollup_listings_on_insert() RETURNS trigger LANGUAGE plpgsql AS $body$ BEGIN INSERT INTO rollup_listings (unit_id, own, platform, status, n) SELECT a.anchor_unit_id, a.own, s.platform, s.status, SUM(s.n) FROM (SELECT g.unit_id AS unit_id, NEW.platform AS platform, NEW.status AS status, 1 AS n FROM products p, groups g WHERE p.id = NEW.product_id AND g.id = p.group_id) s JOIN rollup_anchors a ON a.unit_id = s.unit_id WHERE 1 = 1 GROUP BY a.anchor_unit_id, a.own, s.platform, s.status ORDER BY a.anchor_unit_id, a.own, s.platform, s.status ON CONFLICT (unit_id, own, platform, status) DO UPDATE SET n = rollup_listings.n + excluded.n; RETURN NULL; END $body$;
-- statement
CREATE TRIGGER rollup_listings_on_insert AFTER INSERT ON listings FOR EACH ROW EXECUTE FUNCTION rollup_listings_on_insert();
-- statement
CREATE FUNCTION rollup_listings_on_delete() RETURNS trigger LANGUAGE plpgsql AS $body$ BEGIN INSERT INTO rollup_listings (unit_id, own, platform, status, n) SELECT a.anchor_unit_id, a.own, s.platform, s.status, -SUM(s.n) FROM (SELECT g.unit_id AS unit_id, OLD.platform AS platform, OLD.status AS status, 1 AS n FROM products p, groups g WHERE p.id = OLD.product_id AND g.id = p.group_id) s JOIN rollup_anchors a ON a.unit_id = s.unit_id WHERE 1 = 1 GROUP BY a.anchor_unit_id, a.own, s.platform, s.status ORDER BY a.anchor_unit_id, a.own, s.platform, s.status ON CONFLICT (unit_id, own, platform, status) DO UPDATE SET n = rollup_listings.n + excluded.n; RETURN NULL; END $body$;
-- statement
CREATE TRIGGER rollup_listings_on_delete AFTER DELETE ON listings FOR EACH ROW EXECUTE FUNCTION rollup_listings_on_delete();
-- statement
CREATE FUNCTION rollup_listings_on_update() RETURNS trigger LANGUAGE plpgsql AS $body$ BEGIN INSERT INTO rollup_listings (unit_id, own, platform, status, n) SELECT a.anchor_unit_id, a.own, s.platform, s.status, -SUM(s.n) FROM (SELECT g.unit_id AS unit_id, OLD.platform AS platform, OLD.status AS status, 1 AS n FROM products p, groups g WHERE p.id = OLD.product_id AND g.id = p.group_id) s JOIN rollup_anchors a ON a.unit_id = s.unit_id WHERE 1 = 1 GROUP BY a.anchor_unit_id, a.own, s.platform, s.status ORDER BY a.anchor_unit_id, a.own, s.platform, s.status ON CONFLICT (unit_id, own, platform, status) DO UPDATE SET n = rollup_listings.n + excluded.n; INSERT INTO rollup_listings (unit_id, own, platform, status, n) SELECT a.anchor_unit_id, a.own, s.platform, s.status, SUM(s.n) FROM (SELECT g.unit_id AS unit_id, NEW.platform AS platform, NEW.status AS status, 1 AS n FROM products p, groups g WHERE p.id = NEW.product_id AND g.id = p.group_id) s JOIN rollup_anchors a ON a.unit_id = s.unit_id WHERE 1 = 1 GROUP BY a.anchor_unit_id, a.own, s.platform, s.status ORDER BY a.anchor_unit_id, a.own, s.platform, s.status ON CONFLICT (unit_id, own, platform, status) DO UPDATE SET n = rollup_listings.n + excluded.n; RETURN NULL; END $body$;
-- statement
CREATE TRIGGER rollup_listings_on_update AFTER UPDATE OF product_id, platform, status ON listings FOR EACH ROW EXECUTE FUNCTION rollup_listings_on_update();
-- statement
CREATE FUNCTION rollup_group_moves() RETURNS trigger LANGUAGE plpgsql AS $body$ BEGIN INSERT INTO rollup_tasks (unit_id, own, status, kind, due_on, n) SELECT a.anchor_unit_id, a.own, s.status, s.kind, s.due_on, -SUM(s.n) FROM (SELECT OLD.unit_id AS unit_id, r.status AS status, r.kind AS kind, COALESCE(r.due_on, '9999-12-31') AS due_on, 1 AS n FROM tasks r WHERE OLD.id = r.group_id) s JOIN rollup_anchors a ON a.unit_id = s.unit_id WHERE 1 = 1 GROUP BY a.anchor_unit_id, a.own, s.status, s.kind, s.due_on ORDER BY a.anchor_unit_id, a.own, s.status, s.kind, s.due_on ON CONFLICT (unit_id, own, status, kind, due_on) DO UPDATE SET n = rollup_tasks.n + excluded.n; INSERT INTO rollup_tasks (unit_id, own, status, kind, due_on, n) SELECT a.anchor_unit_id, a.own, s.status, s.kind, s.due_on, SUM(s.n) FROM (SELECT NEW.unit_id AS unit_id, r.status AS status, r.kind AS kind, COALESCE(r.due_on, '9999-12-31') AS due_on, 1 AS n FROM tasks r WHERE NEW.id = r.group_id) s JOIN rollup_anchors a ON a.unit_id = s.unit_id WHERE 1 = 1 GROUP BY a.anchor_unit_id, a.own, s.status, s.kind, s.due_on ORDER BY a.anchor_unit_id, a.own, s.status, s.kind, s.due_on ON CONFLICT (unit_id, own, status, kind, due_on) DO UPDATE SET n = rollup_tasks.n + excluded.n; INSERT INTO rollup_task_totals (unit_id, own, status, kind, n) SELECT a.anchor_unit_id, a.own, s.status, s.kind, -SUM(s.n) FROM (SELECT OLD.unit_id AS unit_id, r.status AS status, r.kind AS kind, 1 AS n FROM tasks r WHERE OLD.id = r.group_id) s JOIN rollup_anchors a ON a.unit_id = s.unit_id WHERE 1 = 1 GROUP BY a.anchor_unit_id, a.own, s.status, s.kind ORDER BY a.anchor_unit_id, a.own, s.status, s.kind ON CONFLICT (unit_id, own, status, kind) DO UPDATE SET n = rollup_task_totals.n + excluded.n; INSERT INTO rollup_task_totals (unit_id, own, status, kind, n) SELECT a.anchor_unit_id, a.own, s.status, s.kind, SUM(s.n) FROM (SELECT NEW.unit_id AS unit_id, r.status AS status, r.kind AS kind, 1 AS n FROM tasks r WHERE NEW.id = r.group_id) s JOIN rollup_anchors a ON a.unit_id = s.unit_id WHERE 1 = 1 GROUP BY a.anchor_unit_id, a.own, s.status, s.kind ORDER BY a.anchor_unit_id, a.own, s.status, s.kind ON CONFLICT (unit_id, own, status, kind) DO UPDATE SET n = rollup_task_totals.n + excluded.n; INSERT INTO rollup_activities (unit_id, own, task_kind, day, n, residents_helped, vneid_activations) SELECT a.anchor_unit_id, a.own, s.task_kind, s.day, -SUM(s.n), -SUM(s.residents_helped), -SUM(s.vneid_activations) FROM (SELECT OLD.unit_id AS unit_id, t.kind AS task_kind, CAST((r.occurred_at AT TIME ZONE 'UTC') + INTERVAL '7 hours' AS DATE) AS day, 1 AS n, r.residents_helped AS residents_helped, r.vneid_activations AS vneid_activations FROM activities r, tasks t WHERE OLD.id = r.group_id AND t.id = r.task_id) s JOIN rollup_anchors a ON a.unit_id = s.unit_id WHERE 1 = 1 GROUP BY a.anchor_unit_id, a.own, s.task_kind, s.day ORDER BY a.anchor_unit_id, a.own, s.task_kind, s.day ON CONFLICT (unit_id, own, task_kind, day) DO UPDATE SET n = rollup_activities.n + excluded.n, residents_helped = rollup_activities.residents_helped + excluded.residents_helped, vneid_activations = rollup_activities.vneid_activations + excluded.vneid_activations; INSERT INTO rollup_activities (unit_id, own, task_kind, day, n, residents_helped, vneid_activations) SELECT a.anchor_unit_id, a.own, s.task_kind, s.day, SUM(s.n), SUM(s.residents_helped), SUM(s.vneid_activations) FROM (SELECT NEW.unit_id AS unit_id, t.kind AS task_kind, CAST((r.occurred_at AT TIME ZONE 'UTC') + INTERVAL '7 hours' AS DATE) AS day, 1 AS n, r.residents_helped AS residents_helped, r.vneid_activations AS vneid_activations FROM activities r, tasks t WHERE NEW.id = r.group_id AND t.id = r.task_id) s JOIN rollup_anchors a ON a.unit_id = s.unit_id WHERE 1 = 1 GROUP BY a.anchor_unit_id, a.own, s.task_kind, s.day ORDER BY a.anchor_unit_id, a.own, s.task_kind, s.day ON CONFLICT (unit_id, own, task_kind, day) DO UPDATE SET n = rollup_activities.n + excluded.n, residents_helped = rollup_activities.residents_helped + excluded.residents_helped, vneid_activations = rollup_activities.vneid_activations + excluded.vneid_activations; INSERT INTO rollup_activity_totals (unit_id, own, task_kind, n, residents_helped, vneid_activations) SELECT a.anchor_unit_id, a.own, s.task_kind, -SUM(s.n), -SUM(s.residents_helped), -SUM(s.vneid_activations) FROM (SELECT OLD.unit_id AS unit_id, t.kind AS task_kind, 1 AS n, r.residents_helped AS residents_helped, r.vneid_activations AS vneid_activations FROM activities r, tasks t WHERE OLD.id = r.group_id AND t.id = r.task_id) s JOIN rollup_anchors a ON a.unit_id = s.unit_id WHERE 1 = 1 GROUP BY a.anchor_unit_id, a.own, s.task_kind ORDER BY a.anchor_unit_id, a.own, s.task_kind ON CONFLICT (unit_id, own, task_kind) DO UPDATE SET n = rollup_activity_totals.n + excluded.n, residents_helped = rollup_activity_totals.residents_helped + excluded.residents_helped, vneid_activations = rollup_activity_totals.vneid_activations + excluded.vneid_activations; INSERT INTO rollup_activity_totals (unit_id, own, task_kind, n, residents_helped, vneid_activations) SELECT a.anchor_unit_id, a.own, s.task_kind, SUM(s.n), SUM(s.residents_helped), SUM(s.vneid_activations) FROM (SELECT NEW.unit_id AS unit_id, t.kind AS task_kind, 1 AS n, r.residents_helped AS residents_helped, r.vneid_activations AS vneid_activations FROM activities r, tasks t WHERE NEW.id = r.group_id AND t.id = r.task_id) s JOIN rollup_anchors a ON a.unit_id = s.unit_id WHERE 1 = 1 GROUP BY a.anchor_unit_id, a.own, s.task_kind ORDER BY a.anchor_unit_id, a.own, s.task_kind ON CONFLICT (unit_id, own, task_kind) DO UPDATE SET n = rollup_activity_totals.n + excluded.n, residents_helped = rollup_activity_totals.residents_helped + excluded.residents_helped, vneid_activations = rollup_activity_totals.vneid_activations + excluded.vneid_activations; INSERT INTO rollup_products (unit_id, own, n) SELECT a.anchor_unit_id, a.own, -SUM(s.n) FROM (SELECT OLD.unit_id AS unit_id, 1 AS n FROM products r WHERE OLD.id = r.group_id) s JOIN rollup_anchors a ON a.unit_id = s.unit_id WHERE 1 = 1 GROUP BY a.anchor_unit_id, a.own ORDER BY a.anchor_unit_id, a.own ON CONFLICT (unit_id, own) DO UPDATE SET n = rollup_products.n + excluded.n; INSERT INTO rollup_products (unit_id, own, n) SELECT a.anchor_unit_id, a.own, SUM(s.n) FROM (SELECT NEW.unit_id AS unit_id, 1 AS n FROM products r WHERE NEW.id = r.group_id) s JOIN rollup_anchors a ON a.unit_id = s.unit_id WHERE 1 = 1 GROUP BY a.anchor_unit_id, a.own ORDER BY a.anchor_unit_id, a.own ON CONFLICT (unit_id, own) DO UPDATE SET n = rollup_products.n + excluded.n; INSERT INTO rollup_listings (unit_id, own, platform, status, n) SELECT a.anchor_unit_id, a.own, s.platform, s.status, -SUM(s.n) FROM (SELECT OLD.unit_id AS unit_id, r.platform AS platform, r.status AS status, 1 AS n FROM listings r, products p WHERE p.id = r.product_id AND OLD.id = p.group_id) s JOIN rollup_anchors a ON a.unit_id = s.unit_id WHERE 1 = 1 GROUP BY a.anchor_unit_id, a.own, s.platform, s.status ORDER BY a.anchor_unit_id, a.own, s.platform, s.status ON CONFLICT (unit_id, own, platform, status) DO UPDATE SET n = rollup_listings.n + excluded.n; INSERT INTO rollup_listings (unit_id, own, platform, status, n) SELECT a.anchor_unit_id, a.own, s.platform, s.status, SUM(s.n) FROM (SELECT NEW.unit_id AS unit_id, r.platform AS platform, r.status AS status, 1 AS n FROM listings r, products p WHERE p.id = r.product_id AND NEW.id = p.group_id) s JOIN rollup_anchors a ON a.unit_id = s.unit_id WHERE 1 = 1 GROUP BY a.anchor_unit_id, a.own, s.platform, s.status ORDER BY a.anchor_unit_id, a.own, s.platform, s.status ON CONFLICT (unit_id, own, platform, status) DO UPDATE SET n = rollup_listings.n + excluded.n; RETURN NULL; END $body$;
-- statement
CREATE TRIGGER rollup_group_moves AFTER UPDATE OF unit_id ON groups FOR EACH ROW WHEN (OLD.unit_id <> NEW.unit_id) EXECUTE FUNCTION rollup_group_moves();
-- statement
CREATE FUNCTION rollup_product_moves() RETURNS trigger LANGUAGE plpgsql AS $body$ BEGIN INSERT INTO rollup_listings (unit_id, own, platform, status, n) SELECT a.anchor_unit_id, a.own, s.platform, s.status, -SUM(s.n) FROM (SELECT g.unit_id AS unit_id, r.platform AS platform, r.status AS status, 1 AS n FROM listings r, groups g WHERE OLD.id = r.product_id AND g.id = OLD.group_id) s JOIN rollup_anchors a ON a.unit_id = s.unit_id WHERE 1 = 1 GROUP BY a.anchor_unit_id, a.own, s.platform, s.status ORDER BY a.anchor_unit_id, a.own, s.platform, s.status ON CONFLICT (unit_id, own, platform, status) DO UPDATE SET n = rollup_listings.n + excluded.n; INSERT INTO rollup_listings (unit_id, own, platform, status, n) SELECT a.anchor_unit_id, a.own, s.platform, s.status, SUM(s.n) FROM (SELECT g.unit_id AS unit_id, r.platform AS platform, r.status AS status, 1 AS n FROM listings r, groups g WHERE NEW.id = r.product_id AND g.id = NEW.group_id) s JOIN rollup_anchors a ON a.unit_id = s.unit_id WHERE 1 = 1 GROUP BY a.anchor_unit_id, a.own, s.platform, s.status ORDER BY a.anchor_unit_id, a.own, s.platform, s.status ON CONFLICT (unit_id, own, platform, status) DO UPDATE SET n = rollup_listings.n + excluded.n; RETURN NULL; END $body$;
-- statement
CREATE TRIGGER rollup_product_moves AFTER UPDATE OF group_id ON products FOR EACH ROW WHEN (OLD.group_id <> NEW.group_id) EXECUTE FUNCTION rollup_product_moves();
-- statement
CREATE FUNCTION rollup_task_kind_changes() RETURNS trigger LANGUAGE plpgsql AS $body$ BEGIN INSERT INTO rollup_activities (unit_id, own, task_kind, day, n, residents_helped, vneid_activations) SELECT a.anchor_unit_id, a.own, s.task_kind, s.day, -SUM(s.n), -SUM(s.residents_helped), -SUM(s.vneid_activations) FROM (SELECT g.unit_id AS unit_id, OLD.kind AS task_kind, CAST((r.occurred_at AT TIME ZONE 'UTC') + INTERVAL '7 hours' AS DATE) AS day, 1 AS n, r.residents_helped AS residents_helped, r.vneid_activations AS vneid_activations FROM activities r, groups g WHERE g.id = r.group_id AND OLD.id = r.task_id) s JOIN rollup_anchors a ON a.unit_id = s.unit_id WHERE 1 = 1 GROUP BY a.anchor_unit_id, a.own, s.task_kind, s.day ORDER BY a.anchor_unit_id, a.own, s.task_kind, s.day ON CONFLICT (unit_id, own, task_kind, day) DO UPDATE SET n = rollup_activities.n + excluded.n, residents_helped = rollup_activities.residents_helped + excluded.residents_helped, vneid_activations = rollup_activities.vneid_activations + excluded.vneid_activations; INSERT INTO rollup_activities (unit_id, own, task_kind, day, n, residents_helped, vneid_activations) SELECT a.anchor_unit_id, a.own, s.task_kind, s.day, SUM(s.n), SUM(s.residents_helped), SUM(s.vneid_activations) FROM (SELECT g.unit_id AS unit_id, NEW.kind AS task_kind, CAST((r.occurred_at AT TIME ZONE 'UTC') + INTERVAL '7 hours' AS DATE) AS day, 1 AS n, r.residents_helped AS residents_helped, r.vneid_activations AS vneid_activations FROM activities r, groups g WHERE g.id = r.group_id AND NEW.id = r.task_id) s JOIN rollup_anchors a ON a.unit_id = s.unit_id WHERE 1 = 1 GROUP BY a.anchor_unit_id, a.own, s.task_kind, s.day ORDER BY a.anchor_unit_id, a.own, s.task_kind, s.day ON CONFLICT (unit_id, own, task_kind, day) DO UPDATE SET n = rollup_activities.n + excluded.n, residents_helped = rollup_activities.residents_helped + excluded.residents_helped, vneid_activations = rollup_activities.vneid_activations + excluded.vneid_activations; INSERT INTO rollup_activity_totals (unit_id, own, task_kind, n, residents_helped, vneid_activations) SELECT a.anchor_unit_id, a.own, s.task_kind, -SUM(s.n), -SUM(s.residents_helped), -SUM(s.vneid_activations) FROM (SELECT g.unit_id AS unit_id, OLD.kind AS task_kind, 1 AS n, r.residents_helped AS residents_helped, r.vneid_activations AS vneid_activations FROM activities r, groups g WHERE g.id = r.group_id AND OLD.id = r.task_id) s JOIN rollup_anchors a ON a.unit_id = s.unit_id WHERE 1 = 1 GROUP BY a.anchor_unit_id, a.own, s.task_kind ORDER BY a.anchor_unit_id, a.own, s.task_kind ON CONFLICT (unit_id, own, task_kind) DO UPDATE SET n = rollup_activity_totals.n + excluded.n, residents_helped = rollup_activity_totals.residents_helped + excluded.residents_helped, vneid_activations = rollup_activity_totals.vneid_activations + excluded.vneid_activations; INSERT INTO rollup_activity_totals (unit_id, own, task_kind, n, residents_helped, vneid_activations) SELECT a.anchor_unit_id, a.own, s.task_kind, SUM(s.n), SUM(s.residents_helped), SUM(s.vneid_activations) FROM (SELECT g.unit_id AS unit_id, NEW.kind AS task_kind, 1 AS n, r.residents_helped AS residents_helped, r.vneid_activations AS vneid_activations FROM activities r, groups g WHERE g.id = r.group_id AND NEW.id = r.task_id) s JOIN rollup_anchors a ON a.unit_id = s.unit_id WHERE 1 = 1 GROUP BY a.anchor_unit_id, a.own, s.task_kind ORDER BY a.anchor_unit_id, a.own, s.task_kind ON CONFLICT (unit_id, own, task_kind) DO UPDATE SET n = rollup_activity_totals.n + excluded.n, residents_helped = rollup_activity_totals.residents_helped + excluded.residents_helped, vneid_activations = rollup_activity_totals.vneid_activations + excluded.vneid_activations; RETURN NULL; END $body$;
-- statement
CREATE TRIGGER rollup_task_kind_changes AFTER UPDATE OF kind ON tasks FOR EACH ROW WHEN (OLD.kind <> NEW.kind) EXECUTE FUNCTION rollup_task_kind_changes();
-- statement
CREATE FUNCTION rollup_anchors_on_insert() RETURNS trigger LANGUAGE plpgsql AS $body$ BEGIN INSERT INTO rollup_anchors (unit_id, anchor_unit_id, own) SELECT NEW.id, a.anchor_unit_id, 0 FROM rollup_anchors a WHERE a.unit_id = NEW.parent_id AND a.own = 0; INSERT INTO rollup_anchors (unit_id, anchor_unit_id, own) VALUES (NEW.id, NEW.id, 0), (NEW.id, NEW.id, 1); RETURN NULL; END $body$;
-- statement
CREATE TRIGGER rollup_anchors_on_insert AFTER INSERT ON admin_units FOR EACH ROW EXECUTE FUNCTION rollup_anchors_on_insert();
-- statement
DELETE FROM rollup_anchors;
-- statement
DELETE FROM rollup_groups;
-- statement
DELETE FROM rollup_members;
-- statement
DELETE FROM rollup_tasks;
-- statement
DELETE FROM rollup_task_totals;
-- statement
DELETE FROM rollup_activities;
-- statement
DELETE FROM rollup_activity_totals;
-- statement
DELETE FROM rollup_products;
-- statement
DELETE FROM rollup_listings;
-- statement
WITH RECURSIVE up (unit_id, anchor_unit_id) AS (SELECT id, id FROM admin_units UNION ALL SELECT up.unit_id, u.parent_id FROM up JOIN admin_units u ON u.id = up.anchor_unit_id WHERE u.parent_id IS NOT NULL) INSERT INTO rollup_anchors (unit_id, anchor_unit_id, own) SELECT unit_id, anchor_unit_id, 0 FROM up;
-- statement
INSERT INTO rollup_anchors (unit_id, anchor_unit_id, own) SELECT id, id, 1 FROM admin_units;
-- statement
INSERT INTO rollup_groups (unit_id, own, kind, status, n) SELECT a.anchor_unit_id, a.own, s.kind, s.status, SUM(s.n) FROM (SELECT r.unit_id AS unit_id, r.kind AS kind, r.status AS status, 1 AS n FROM groups r) s JOIN rollup_anchors a ON a.unit_id = s.unit_id WHERE 1 = 1 GROUP BY a.anchor_unit_id, a.own, s.kind, s.status ORDER BY a.anchor_unit_id, a.own, s.kind, s.status ON CONFLICT (unit_id, own, kind, status) DO UPDATE SET n = rollup_groups.n + excluded.n;
-- statement
INSERT INTO rollup_members (unit_id, own, affiliation, trained, n) SELECT a.anchor_unit_id, a.own, s.affiliation, s.trained, SUM(s.n) FROM (SELECT r.unit_id AS unit_id, r.affiliation AS affiliation, CASE WHEN r.trained_on IS NULL THEN 0 ELSE 1 END AS trained, 1 AS n FROM members r) s JOIN rollup_anchors a ON a.unit_id = s.unit_id WHERE 1 = 1 GROUP BY a.anchor_unit_id, a.own, s.affiliation, s.trained ORDER BY a.anchor_unit_id, a.own, s.affiliation, s.trained ON CONFLICT (unit_id, own, affiliation, trained) DO UPDATE SET n = rollup_members.n + excluded.n;
-- statement
INSERT INTO rollup_tasks (unit_id, own, status, kind, due_on, n) SELECT a.anchor_unit_id, a.own, s.status, s.kind, s.due_on, SUM(s.n) FROM (SELECT g.unit_id AS unit_id, r.status AS status, r.kind AS kind, COALESCE(r.due_on, '9999-12-31') AS due_on, 1 AS n FROM tasks r, groups g WHERE g.id = r.group_id) s JOIN rollup_anchors a ON a.unit_id = s.unit_id WHERE 1 = 1 GROUP BY a.anchor_unit_id, a.own, s.status, s.kind, s.due_on ORDER BY a.anchor_unit_id, a.own, s.status, s.kind, s.due_on ON CONFLICT (unit_id, own, status, kind, due_on) DO UPDATE SET n = rollup_tasks.n + excluded.n;
-- statement
INSERT INTO rollup_task_totals (unit_id, own, status, kind, n) SELECT a.anchor_unit_id, a.own, s.status, s.kind, SUM(s.n) FROM (SELECT g.unit_id AS unit_id, r.status AS status, r.kind AS kind, 1 AS n FROM tasks r, groups g WHERE g.id = r.group_id) s JOIN rollup_anchors a ON a.unit_id = s.unit_id WHERE 1 = 1 GROUP BY a.anchor_unit_id, a.own, s.status, s.kind ORDER BY a.anchor_unit_id, a.own, s.status, s.kind ON CONFLICT (unit_id, own, status, kind) DO UPDATE SET n = rollup_task_totals.n + excluded.n;
-- statement
INSERT INTO rollup_activity_totals (unit_id, own, task_kind, n, residents_helped, vneid_activations) SELECT a.anchor_unit_id, a.own, s.task_kind, SUM(s.n), SUM(s.residents_helped), SUM(s.vneid_activations) FROM (SELECT g.unit_id AS unit_id, t.kind AS task_kind, 1 AS n, r.residents_helped AS residents_helped, r.vneid_activations AS vneid_activations FROM activities r, groups g, tasks t WHERE g.id = r.group_id AND t.id = r.task_id) s JOIN rollup_anchors a ON a.unit_id = s.unit_id WHERE 1 = 1 GROUP BY a.anchor_unit_id, a.own, s.task_kind ORDER BY a.anchor_unit_id, a.own, s.task_kind ON CONFLICT (unit_id, own, task_kind) DO UPDATE SET n = rollup_activity_totals.n + excluded.n, residents_helped = rollup_activity_totals.residents_helped + excluded.residents_helped, vneid_activations = rollup_activity_totals.vneid_activations + excluded.vneid_activations;
-- statement
INSERT INTO rollup_activities (unit_id, own, task_kind, day, n, residents_helped, vneid_activations) SELECT a.anchor_unit_id, a.own, s.task_kind, s.day, SUM(s.n), SUM(s.residents_helped), SUM(s.vneid_activations) FROM (SELECT g.unit_id AS unit_id, t.kind AS task_kind, CAST((r.occurred_at AT TIME ZONE 'UTC') + INTERVAL '7 hours' AS DATE) AS day, 1 AS n, r.residents_helped AS residents_helped, r.vneid_activations AS vneid_activations FROM activities r, groups g, tasks t WHERE g.id = r.group_id AND t.id = r.task_id) s JOIN rollup_anchors a ON a.unit_id = s.unit_id WHERE 1 = 1 GROUP BY a.anchor_unit_id, a.own, s.task_kind, s.day ORDER BY a.anchor_unit_id, a.own, s.task_kind, s.day ON CONFLICT (unit_id, own, task_kind, day) DO UPDATE SET n = rollup_activities.n + excluded.n, residents_helped = rollup_activities.residents_helped + excluded.residents_helped, vneid_activations = rollup_activities.vneid_activations + excluded.vneid_activations;
-- statement
INSERT INTO rollup_products (unit_id, own, n) SELECT a.anchor_unit_id, a.own, SUM(s.n) FROM (SELECT g.unit_id AS unit_id, 1 AS n FROM products r, groups g WHERE g.id = r.group_id) s JOIN rollup_anchors a ON a.unit_id = s.unit_id WHERE 1 = 1 GROUP BY a.anchor_unit_id, a.own ORDER BY a.anchor_unit_id, a.own ON CONFLICT (unit_id, own) DO UPDATE SET n = rollup_products.n + excluded.n;
-- statement
INSERT INTO rollup_listings (unit_id, own, platform, status, n) SELECT a.anchor_unit_id, a.own, s.platform, s.status, SUM(s.n) FROM (SELECT g.unit_id AS unit_id, r.platform AS platform, r.status AS status, 1 AS n FROM listings r, products p, groups g WHERE p.id = r.product_id AND g.id = p.group_id) s JOIN rollup_anchors a ON a.unit_id = s.unit_id WHERE 1 = 1 GROUP BY a.anchor_unit_id, a.own, s.platform, s.status ORDER BY a.anchor_unit_id, a.own, s.platform, s.status ON CONFLICT (unit_id, own, platform, status) DO UPDATE SET n = rollup_listings.n + excluded.n;
-- statement
