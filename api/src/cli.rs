//! Command-line actions: serve, migrate, seed, schema, user.

use std::io::BufRead;
use std::net::TcpListener;

use sea_orm_migration::MigratorTrait;

use crate::config::{Cli, Command, MigrateAction, SeedWhat, ServeArgs, UserAction};
use crate::db::{self, PoolSettings};
use crate::principal::Principal;
use crate::service::{units, users};
use crate::startup::Application;

pub async fn run(cli: Cli) -> Result<(), String> {
    match cli.command.unwrap_or(Command::Serve(ServeArgs::defaults())) {
        Command::Serve(args) => serve(&cli.database_url, args).await,
        Command::Schema => {
            print!("{}", crate::graphql::sdl());
            Ok(())
        }
        Command::Migrate { action } => {
            let (conn, _) = db::connect(
                &cli.database_url,
                &PoolSettings::maintenance(&cli.database_url),
            )
            .await
            .map_err(|e| e.to_string())?;
            let result = match action {
                MigrateAction::Up => db::migrate(&conn).await,
                MigrateAction::Down { steps } => {
                    cdtg_migrations::Migrator::down(&conn, Some(steps)).await
                }
                MigrateAction::RebuildRollups => {
                    let started = std::time::Instant::now();
                    cdtg_migrations::rollups::rebuild(&conn)
                        .await
                        .map_err(|e| e.to_string())?;
                    println!(
                        "rebuilt the statistics rollups in {:.1} s",
                        started.elapsed().as_secs_f64()
                    );
                    Ok(())
                }
                MigrateAction::Status => {
                    for m in cdtg_migrations::Migrator::get_migration_with_status(&conn)
                        .await
                        .map_err(|e| e.to_string())?
                    {
                        println!("{}\t{}", m.name(), m.status());
                    }
                    Ok(())
                }
            };
            result.map_err(|e| e.to_string())
        }
        Command::Seed {
            what: SeedWhat::Demo { scale },
        } => {
            let (conn, _) = db::connect(
                &cli.database_url,
                &PoolSettings::maintenance(&cli.database_url),
            )
            .await
            .map_err(|e| e.to_string())?;
            db::migrate(&conn).await.map_err(|e| e.to_string())?;
            if crate::seed::has_data(&conn)
                .await
                .map_err(|e| e.to_string())?
            {
                return Err("the database already holds data; seed into an empty database".into());
            }
            let started = std::time::Instant::now();
            let s = crate::seed::demo(&conn, scale.max(1))
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "seeded scale {scale} in {:.1} s: {} units, {} groups, {} members, {} tasks, {} activities, {} products, {} listings",
                started.elapsed().as_secs_f64(),
                s.units,
                s.groups,
                s.members,
                s.tasks,
                s.activities,
                s.products,
                s.listings
            );
            Ok(())
        }
        Command::User {
            action:
                UserAction::Create {
                    username,
                    role,
                    scope,
                },
        } => {
            let (conn, _) = db::connect(
                &cli.database_url,
                &PoolSettings::maintenance(&cli.database_url),
            )
            .await
            .map_err(|e| e.to_string())?;
            db::migrate(&conn).await.map_err(|e| e.to_string())?;
            let role =
                cdtg_core::policy::Role::parse(&role.to_uppercase()).ok_or("unknown role")?;
            let password = match std::env::var("CDTG_USER_PASSWORD") {
                Ok(p) => p,
                Err(_) => {
                    let mut line = String::new();
                    std::io::stdin()
                        .lock()
                        .read_line(&mut line)
                        .map_err(|e| e.to_string())?;
                    line.trim_end_matches(['\r', '\n']).to_owned()
                }
            };
            let (unit, group) = if role.is_group_scoped() {
                (
                    None,
                    Some(
                        scope
                            .parse::<i64>()
                            .map_err(|_| "--scope must be a group id for group roles")?,
                    ),
                )
            } else {
                let unit = units::find_by_code_or_name(&conn, &scope)
                    .await
                    .map_err(|e| e.public_message())?
                    .ok_or("no unit with that code or name")?;
                (Some(unit.id), None)
            };
            let new = users::NewUser {
                username,
                password,
                role,
                scope_unit_id: unit,
                scope_group_id: group,
                member_id: None,
            };
            let u = users::create(&conn, &Principal::system(), new)
                .await
                .map_err(|e| e.public_message())?;
            println!("created user {} ({})", u.username, u.role);
            Ok(())
        }
    }
}

async fn serve(database_url: &str, args: ServeArgs) -> Result<(), String> {
    let listener =
        TcpListener::bind(args.bind).map_err(|e| format!("binding {}: {e}", args.bind))?;
    let app = Application::build(database_url, &args, listener).await?;
    tracing::info!(address = %args.bind, "CDTG listening; GraphiQL at /graphiql");
    app.run_until_stopped().await.map_err(|e| e.to_string())
}
