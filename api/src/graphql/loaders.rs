//! Per-request DataLoaders: every nested edge is batched into one service call per nesting
//! level (and per distinct argument set), so a query's statement count is bounded by its depth,
//! not by its row count. The loader carries the request's principal, so batched reads apply
//! exactly the same scope as single ones.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use cdtg_core::group::{GroupKind, GroupStatus};
use cdtg_core::task::{TaskKind, TaskStatus};
use sea_orm::DatabaseConnection;

use crate::entity::{
    activity, activity_outcome, admin_unit, group, listing, member, membership, product, task,
    unit_survey,
};
use crate::error::{ApiError, ApiResult};
use crate::principal::Principal;
use crate::service::columns::{GroupColumns, MemberColumns, TaskColumns};
use crate::service::page::{Page, Window};
use crate::service::{groups, members, products, surveys, tasks, units};

#[derive(Clone)]
pub struct BatchLoader {
    pub db: DatabaseConnection,
    pub principal: Principal,
}

/// Groups keys by their non-id parameters, so each distinct parameter set is one query. The
/// keys of one batch nearly always share a single set, so a short list searched in order does
/// better than hashing (and cloning) every key's parameters.
fn by_params<'k, K, P: Eq>(
    keys: &'k [K],
    params: impl Fn(&'k K) -> (i64, P),
) -> Vec<(P, Vec<i64>)> {
    let mut out: Vec<(P, Vec<i64>)> = Vec::new();
    for k in keys {
        let (id, p) = params(k);
        match out.iter_mut().find(|(known, _)| *known == p) {
            Some((_, ids)) => ids.push(id),
            None => out.push((p, vec![id])),
        }
    }
    out
}

macro_rules! by_id_loader {
    ($key:ident, $model:ty, $fetch:path) => {
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
        pub struct $key(pub i64);

        impl Loader<$key> for BatchLoader {
            type Value = $model;
            type Error = ApiError;

            async fn load(&self, keys: &[$key]) -> ApiResult<HashMap<$key, $model>> {
                let ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
                let found = $fetch(&self.db, &self.principal, &ids).await?;
                Ok(found.into_iter().map(|(id, m)| ($key(id), m)).collect())
            }
        }
    };
}

by_id_loader!(UnitById, admin_unit::Model, units::get_by_ids);
by_id_loader!(GroupById, group::Model, groups::get_by_ids);
by_id_loader!(MemberById, member::Model, members::get_by_ids);
by_id_loader!(TaskById, task::Model, tasks::get_by_ids);
by_id_loader!(ProductById, product::Model, products::get_by_ids);
by_id_loader!(UnitChildren, Vec<admin_unit::Model>, units::children_of);
by_id_loader!(
    MemberMemberships,
    Vec<membership::Model>,
    members::memberships_of
);
by_id_loader!(GroupProducts, Vec<product::Model>, products::of_groups);
by_id_loader!(ProductListings, Vec<listing::Model>, products::listings_of);
by_id_loader!(UnitSurveys, Vec<unit_survey::Model>, surveys::of_units);

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct ActivityOutcomes(pub i64);

impl Loader<ActivityOutcomes> for BatchLoader {
    type Value = Vec<activity_outcome::Model>;
    type Error = ApiError;

    async fn load(
        &self,
        keys: &[ActivityOutcomes],
    ) -> ApiResult<HashMap<ActivityOutcomes, Self::Value>> {
        let ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
        let found = tasks::outcomes_of(&self.db, &ids).await?;
        Ok(found
            .into_iter()
            .map(|(id, v)| (ActivityOutcomes(id), v))
            .collect())
    }
}

/// The page of a parent the batched statement returned no row for: every parent with a row
/// sends at least one (for its total), so this parent has none at all.
fn empty_page<T>() -> Page<T> {
    Page::empty(Some(0))
}

/// A nested page under a parent, with the arguments that shape it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Nested<P> {
    pub parent: i64,
    pub params: P,
    pub window: Window,
}

/// Hashes the parent alone. The DataLoader hashes each key six or seven times on its way (its
/// pending set, its cache, each waiter's answer), and hashing the whole key, the selection's
/// columns and the window with its cursors, was a twentieth of the server's time for a ward's
/// 50 groups with their members and tasks. Keys that differ only in their arguments share a
/// parent rarely (one page of a group asked twice in one operation), and equality still tells
/// them apart.
impl<P> Hash for Nested<P> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.parent.hash(state);
    }
}

macro_rules! nested_loader {
    ($params:ty, $model:ty, |$this:ident, $ids:ident, $p:ident, $window:ident| $body:expr) => {
        // Shared, not copied: nothing keeps a nested page (`Session::pages`), so the resolver
        // that waited for it is its only holder (unless one batch asked for it twice) and takes
        // it without a copy (`Arc::unwrap_or_clone`).
        impl Loader<Nested<$params>> for BatchLoader {
            type Value = Arc<Page<$model>>;
            type Error = ApiError;

            async fn load(
                &self,
                keys: &[Nested<$params>],
            ) -> ApiResult<HashMap<Nested<$params>, Arc<Page<$model>>>> {
                let mut out = HashMap::new();
                for (($p, $window), $ids) in by_params(keys, |k| (k.parent, (&k.params, &k.window)))
                {
                    let $this = self;
                    let $window = $window.clone();
                    let key_window = $window.clone();
                    let mut pages = $body;
                    for id in $ids {
                        let page = pages.remove(&id).unwrap_or_else(empty_page);
                        out.insert(
                            Nested {
                                parent: id,
                                params: $p.clone(),
                                window: key_window.clone(),
                            },
                            Arc::new(page),
                        );
                    }
                }
                Ok(out)
            }
        }
    };
}

/// `group.members(includeFormer:)`.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct GroupMembersParams {
    pub include_former: bool,
    /// What the selection reads of each member (`Member::columns`).
    pub columns: MemberColumns,
}
nested_loader!(GroupMembersParams, member::Model, |this, ids, p, window| {
    let (principal, former) = (&this.principal, p.include_former);
    groups::members_of(&this.db, principal, &ids, former, p.columns, window).await?
});

/// `unit.groups(filter:)`.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct UnitGroupsParams {
    pub kind: Option<GroupKind>,
    pub status: Option<GroupStatus>,
    pub search: Option<String>,
    /// What the selection reads of each group (`Group::columns`).
    pub columns: GroupColumns,
}
nested_loader!(UnitGroupsParams, group::Model, |this, ids, p, window| {
    let f = groups::GroupFilter {
        unit_id: None,
        kind: p.kind,
        status: p.status,
        search: p.search.clone(),
        ..Default::default()
    };
    groups::in_units(&this.db, &this.principal, &ids, &f, p.columns, window).await?
});

/// `unit.members`.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct UnitMembersParams {
    /// What the selection reads of each member (`Member::columns`).
    pub columns: MemberColumns,
}
nested_loader!(UnitMembersParams, member::Model, |this, ids, p, window| {
    members::in_units(&this.db, &this.principal, &ids, p.columns, window).await?
});

/// `group.tasks(filter:)`.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct GroupTasksParams {
    pub status: Option<Vec<TaskStatus>>,
    pub kind: Option<TaskKind>,
    pub overdue: Option<bool>,
    /// What the selection reads of each task (`Task::columns`).
    pub columns: TaskColumns,
}
nested_loader!(GroupTasksParams, task::Model, |this, ids, p, window| {
    let f = tasks::TaskFilter {
        status: p.status.clone(),
        kind: p.kind,
        overdue: p.overdue,
        ..Default::default()
    };
    tasks::of_groups(&this.db, &this.principal, &ids, &f, p.columns, window).await?
});

/// `task.activities`.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct TaskActivitiesParams;
nested_loader!(
    TaskActivitiesParams,
    activity::Model,
    |this, ids, _p, window| {
        tasks::activities_of(&this.db, &this.principal, &ids, window).await?
    }
);

/// `group.memberships(includeFormer:)`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct GroupMemberships {
    pub group_id: i64,
    pub include_former: bool,
    pub updated_since: Option<chrono::DateTime<chrono::Utc>>,
}

impl Loader<GroupMemberships> for BatchLoader {
    type Value = Vec<membership::Model>;
    type Error = ApiError;

    async fn load(
        &self,
        keys: &[GroupMemberships],
    ) -> ApiResult<HashMap<GroupMemberships, Self::Value>> {
        let mut out = HashMap::new();
        let params = |k: &GroupMemberships| (k.group_id, (k.include_former, k.updated_since));
        for ((include_former, updated_since), ids) in by_params(keys, params) {
            let mut found = members::memberships_in(
                &self.db,
                &self.principal,
                &ids,
                include_former,
                updated_since,
            )
            .await?;
            for id in ids {
                out.insert(
                    GroupMemberships {
                        group_id: id,
                        include_former,
                        updated_since,
                    },
                    found.remove(&id).unwrap_or_default(),
                );
            }
        }
        Ok(out)
    }
}
