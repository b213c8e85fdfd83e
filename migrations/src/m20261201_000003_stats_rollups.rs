//! Statistics rollups (issue 5): the per-unit counters of [`crate::rollups`], their triggers,
//! and a back-fill from the facts already in the database.

use sea_orm_migration::prelude::*;

use crate::rollups;

#[derive(DeriveMigrationName)]
pub struct Migration;

async fn run(manager: &SchemaManager<'_>, statements: Vec<String>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    for sql in statements {
        db.execute_unprepared(&sql).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        run(manager, rollups::create_statements(backend)).await?;
        run(manager, rollups::rebuild_statements(backend)).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(
            manager,
            rollups::drop_statements(manager.get_database_backend()),
        )
        .await
    }
}
