DROP TRIGGER IF EXISTS rollup_groups_on_insert;
-- statement
DROP TRIGGER IF EXISTS rollup_groups_on_delete;
-- statement
DROP TRIGGER IF EXISTS rollup_groups_on_update;
-- statement
DROP TRIGGER IF EXISTS rollup_members_on_insert;
-- statement
DROP TRIGGER IF EXISTS rollup_members_on_delete;
-- statement
DROP TRIGGER IF EXISTS rollup_members_on_update;
-- statement
DROP TRIGGER IF EXISTS rollup_tasks_on_insert;
-- statement
DROP TRIGGER IF EXISTS rollup_tasks_on_delete;
-- statement
DROP TRIGGER IF EXISTS rollup_tasks_on_update;
-- statement
DROP TRIGGER IF EXISTS rollup_activities_on_insert;
-- statement
DROP TRIGGER IF EXISTS rollup_activities_on_delete;
-- statement
DROP TRIGGER IF EXISTS rollup_activities_on_update;
-- statement
DROP TRIGGER IF EXISTS rollup_products_on_insert;
-- statement
DROP TRIGGER IF EXISTS rollup_products_on_delete;
-- statement
DROP TRIGGER IF EXISTS rollup_products_on_update;
-- statement
DROP TRIGGER IF EXISTS rollup_listings_on_insert;
-- statement
DROP TRIGGER IF EXISTS rollup_listings_on_delete;
-- statement
DROP TRIGGER IF EXISTS rollup_listings_on_update;
-- statement
DROP TRIGGER IF EXISTS rollup_group_moves;
-- statement
DROP TRIGGER IF EXISTS rollup_product_moves;
-- statement
DROP TRIGGER IF EXISTS rollup_task_kind_changes;
-- statement
DROP TRIGGER IF EXISTS rollup_anchors_on_insert;
-- statement
DROP TABLE IF EXISTS rollup_listings;
-- statement
DROP TABLE IF EXISTS rollup_products;
-- statement
DROP TABLE IF EXISTS rollup_activities;
-- statement
DROP TABLE IF EXISTS rollup_tasks;
-- statement
DROP TABLE IF EXISTS rollup_members;
-- statement
DROP TABLE IF EXISTS rollup_groups;
-- statement
DROP TABLE IF EXISTS rollup_anchors;
