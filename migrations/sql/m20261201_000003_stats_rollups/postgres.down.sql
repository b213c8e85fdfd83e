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
DROP TRIGGER IF EXISTS rollup_task_kind_changes ON tasks;
-- statement
DROP FUNCTION IF EXISTS rollup_task_kind_changes();
-- statement
DROP TRIGGER IF EXISTS rollup_anchors_on_insert ON admin_units;
-- statement
DROP FUNCTION IF EXISTS rollup_anchors_on_insert();
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
