//! Command-line actions: serve, migrate, seed, schema, user.

use std::io::BufRead;
use std::net::TcpListener;
use std::time::Duration;

use sea_orm_migration::MigratorTrait;

use crate::config::{
    Cli, Command, ImportArgs, ImportWhat, MigrateAction, ServeArgs, UnitsAction, UserAction,
};
use crate::db::{self, PoolSettings};
use crate::principal::Principal;
use crate::progress::{Progress, Step, thousands};
use crate::service::{unit_files, units, users};
use crate::startup::Application;

/// The statement limit of this run's maintenance commands (`--statement-timeout`), set once
/// when the command line is read; none unless the operator asks for one.
static STATEMENT_TIMEOUT: std::sync::OnceLock<Duration> = std::sync::OnceLock::new();

fn maintenance_settings(database_url: &str) -> PoolSettings {
    let timeout = STATEMENT_TIMEOUT.get().copied().unwrap_or(Duration::ZERO);
    PoolSettings::maintenance_with_timeout(database_url, timeout)
}

/// A connection for a maintenance command, without the server's request deadline.
async fn maintenance_connection(database_url: &str) -> Result<sea_orm::DatabaseConnection, String> {
    let (conn, _) = db::connect(database_url, &maintenance_settings(database_url))
        .await
        .map_err(|e| e.to_string())?;
    Ok(conn)
}

/// A migrated connection for a maintenance command.
async fn maintenance(database_url: &str) -> Result<sea_orm::DatabaseConnection, String> {
    let conn = maintenance_connection(database_url).await?;
    db::migrate(&conn).await.map_err(|e| e.to_string())?;
    Ok(conn)
}

/// A database error as the operator should read it: a cancelled statement says which limit
/// cancelled it and how to lift it.
fn explain(e: impl std::fmt::Display) -> String {
    let text = e.to_string();
    if text.contains("statement timeout") {
        format!(
            "{text}\n(cancelled by --statement-timeout {} s; run again with a larger limit, or 0 for none)",
            STATEMENT_TIMEOUT.get().map_or(0, Duration::as_secs)
        )
    } else {
        text
    }
}

/// Where a long service call's steps go on the command line: lines on standard error.
fn printed_steps(what: &'static str) -> impl Fn(Step) + Send + Sync {
    let progress = std::sync::Mutex::new(Progress::new(what));
    move |step| {
        if let Ok(mut p) = progress.lock() {
            p.report(step);
        }
    }
}

/// `migrate verify-rollups`: every rollup table against a recount from the facts.
async fn verify_rollups(conn: &sea_orm::DatabaseConnection) -> Result<(), String> {
    let mut progress = Progress::new("verify-rollups");
    let checked = cdtg_migrations::rollups::verify(conn, |table| {
        progress.step(&format!("checking {table}"));
    })
    .await
    .map_err(explain)?;
    let mut differ = Vec::new();
    for v in &checked {
        if v.is_exact() {
            println!("{}: exact ({} rows)", v.table, thousands(v.rows as u64));
        } else {
            println!(
                "{}: DIFFERS from the facts: {} rows missing or wrong, {} rows extra (of {})",
                v.table,
                thousands(v.wrong as u64),
                thousands(v.extra as u64),
                thousands(v.rows as u64)
            );
            differ.push(v.table);
        }
    }
    if differ.is_empty() {
        println!(
            "every statistics rollup equals the facts (checked in {:.1} s)",
            progress.elapsed().as_secs_f64()
        );
        Ok(())
    } else {
        Err(format!(
            "{} differ from the facts; `cdtg migrate rebuild-rollups` recomputes them",
            differ.join(", ")
        ))
    }
}

/// Reads a file named on the command line.
fn read(path: &std::path::Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// A password from `variable` or, if unset, the first line of standard input.
fn password_from(variable: &str) -> Result<String, String> {
    match std::env::var(variable) {
        Ok(p) => Ok(p),
        Err(_) => {
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .map_err(|e| e.to_string())?;
            Ok(line.trim_end_matches(['\r', '\n']).to_owned())
        }
    }
}

pub async fn run(cli: Cli) -> Result<(), String> {
    let _ = STATEMENT_TIMEOUT.set(Duration::from_secs(cli.statement_timeout_secs));
    match cli.command.unwrap_or(Command::Serve(ServeArgs::defaults())) {
        Command::Serve(args) => serve(&cli.database_url, args).await,
        Command::Schema => {
            print!("{}", crate::graphql::sdl());
            Ok(())
        }
        Command::Migrate { action } => {
            let conn = maintenance_connection(&cli.database_url).await?;
            let result = match action {
                MigrateAction::Up => db::migrate(&conn).await,
                MigrateAction::Down { steps } => {
                    cdtg_migrations::Migrator::down(&conn, Some(steps)).await
                }
                MigrateAction::RebuildRollups => {
                    let mut progress = Progress::new("rebuild-rollups");
                    cdtg_migrations::rollups::rebuild_reporting(&conn, |table| {
                        progress.step(&format!("recomputing {table}"));
                    })
                    .await
                    .map_err(explain)?;
                    println!(
                        "rebuilt the statistics rollups in {:.1} s",
                        progress.elapsed().as_secs_f64()
                    );
                    Ok(())
                }
                MigrateAction::VerifyRollups => return verify_rollups(&conn).await,
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
            result.map_err(explain)
        }
        #[cfg(feature = "demo")]
        Command::Seed {
            what: crate::config::SeedWhat::Demo { scale, reform },
        } => {
            let conn = maintenance(&cli.database_url).await?;
            if crate::seed::has_data(&conn)
                .await
                .map_err(|e| e.to_string())?
            {
                return Err("the database already holds data; seed into an empty database".into());
            }
            let mut progress = Progress::new("seed");
            let s = crate::seed::demo_reporting(&conn, scale.max(1), |step| match step {
                crate::seed::SeedStep::Ward { done, of, rows } => {
                    let line = |elapsed: Duration| {
                        let n = rows.rows();
                        format!(
                            "{done}/{of} wards: {} groups, {} members, {} rows ({} rows/s)",
                            thousands(rows.groups),
                            thousands(rows.members),
                            thousands(n),
                            thousands((n as f64 / elapsed.as_secs_f64().max(0.001)) as u64)
                        )
                    };
                    // Every few seconds, and the last ward always.
                    if done == of {
                        let text = line(progress.elapsed());
                        progress.step(&text);
                    } else {
                        progress.tick(line);
                    }
                }
                crate::seed::SeedStep::Rollups(table) => {
                    progress.step(&format!("computing the statistics: {table}"));
                }
                crate::seed::SeedStep::Committing => progress.step("committing"),
            })
            .await
            .map_err(explain)?;
            println!(
                "seeded scale {scale} in {:.1} s: {} units, {} groups, {} members, {} tasks, {} activities, {} products, {} listings",
                progress.elapsed().as_secs_f64(),
                s.units,
                s.groups,
                s.members,
                s.tasks,
                s.activities,
                s.products,
                s.listings
            );
            if reform {
                let report = crate::seed::apply_reform(&conn, &printed_steps("reform"))
                    .await
                    .map_err(|e| e.to_string())?;
                println!("applied the 1 July 2025 reform: {}", report.summary());
            }
            Ok(())
        }
        Command::Units { action } => units_command(&cli.database_url, action).await,
        Command::Init {
            units,
            admin_username,
        } => init(&cli.database_url, &units, admin_username).await,
        Command::User { action } => user_command(&cli.database_url, action).await,
        Command::Import { what } => import_command(&cli.database_url, what).await,
    }
}

/// `cdtg import members|groups FILE --unit CODE [--commit] [--strict]`: prints one line per row
/// that is not unchanged, then the totals. A file that cannot be imported at all fails; refused
/// rows are reported (and, with `--strict`, make the exit status 1 — after a commit the other
/// rows are written all the same).
async fn import_command(database_url: &str, what: ImportWhat) -> Result<(), String> {
    use crate::service::import::{self, ImportKind, RowOutcome, SheetFile};
    let (kind, args): (ImportKind, ImportArgs) = match what {
        ImportWhat::Members(a) => (ImportKind::Members, a),
        ImportWhat::Groups(a) => (ImportKind::Groups, a),
    };
    let conn = maintenance(database_url).await?;
    let unit = units::find_by_code_or_name(&conn, &args.unit)
        .await
        .map_err(|e| e.public_message())?
        .ok_or_else(|| format!("no current unit has the code or name {:?}", args.unit))?;
    let limits = crate::sheets::read::SheetLimits {
        max_file_bytes: args.max_import_bytes,
        ..Default::default()
    };
    let size = std::fs::metadata(&args.file)
        .map_err(|e| format!("{}: {e}", args.file.display()))?
        .len();
    if size > limits.max_file_bytes {
        return Err(crate::sheets::read::too_large(&limits).public_message());
    }
    let file = SheetFile {
        filename: args.file.display().to_string(),
        bytes: read(&args.file)?,
    };
    let report = import::run_reporting(
        &conn,
        &Principal::system(),
        kind,
        unit.id,
        &file,
        args.commit,
        &limits,
        &printed_steps("import"),
    )
    .await
    .map_err(|e| e.public_message())?;
    for row in &report.rows {
        let outcome = match row.outcome {
            RowOutcome::Created => "created",
            RowOutcome::Updated => "updated",
            RowOutcome::Unchanged => continue,
            RowOutcome::Refused => "REFUSED",
        };
        let key = row.key.as_deref().unwrap_or("-");
        let why: Vec<String> = row
            .problems
            .iter()
            .map(|p| format!("{}: {}", p.column, p.message))
            .collect();
        println!("row {}\t{outcome}\t{key}\t{}", row.row, why.join("; "));
    }
    let mode = if report.committed {
        "committed"
    } else {
        "dry run, nothing written (add --commit to apply)"
    };
    println!(
        "{} into {}: {} ({mode})",
        args.file.display(),
        unit.name,
        report.summary()
    );
    if args.strict && report.count(RowOutcome::Refused) > 0 {
        return Err(format!(
            "{} row(s) refused",
            report.count(RowOutcome::Refused)
        ));
    }
    Ok(())
}

fn parse_role(text: &str) -> Result<cdtg_core::policy::Role, String> {
    cdtg_core::policy::Role::parse(&text.trim().to_uppercase())
        .ok_or_else(|| format!("unknown role {text:?}"))
}

/// `--scope`: a group id for group roles, else a unit's GSO code or name.
async fn parse_scope(
    conn: &sea_orm::DatabaseConnection,
    role: cdtg_core::policy::Role,
    scope: &str,
) -> Result<(Option<i64>, Option<i64>), String> {
    if role.is_group_scoped() {
        let id = scope
            .parse::<i64>()
            .map_err(|_| "--scope must be a group id for group roles")?;
        return Ok((None, Some(id)));
    }
    let unit = units::find_by_code_or_name(conn, scope)
        .await
        .map_err(|e| e.public_message())?
        .ok_or("no unit with that code or name")?;
    Ok((Some(unit.id), None))
}

async fn account(
    conn: &sea_orm::DatabaseConnection,
    username: &str,
) -> Result<crate::entity::user::Model, String> {
    users::by_username(conn, username)
        .await
        .map_err(|e| e.public_message())?
        .ok_or_else(|| format!("no account named {username:?}"))
}

async fn user_command(database_url: &str, action: UserAction) -> Result<(), String> {
    let conn = maintenance(database_url).await?;
    let system = Principal::system();
    match action {
        UserAction::Create {
            username,
            role,
            scope,
        } => {
            let role = parse_role(&role)?;
            let password = password_from("CDTG_USER_PASSWORD")?;
            let (unit, group) = parse_scope(&conn, role, &scope).await?;
            let new = users::NewUser {
                username,
                password,
                role,
                scope_unit_id: unit,
                scope_group_id: group,
                member_id: None,
            };
            let u = users::create(&conn, &system, new)
                .await
                .map_err(|e| e.public_message())?;
            println!("created user {} ({})", u.username, u.role);
        }
        UserAction::List {
            role,
            unit,
            disabled,
            search,
        } => {
            let roles = role
                .iter()
                .map(|r| parse_role(r))
                .collect::<Result<Vec<_>, _>>()?;
            let unit_id = match unit {
                Some(u) => Some(
                    units::find_by_code_or_name(&conn, &u)
                        .await
                        .map_err(|e| e.public_message())?
                        .ok_or("no unit with that code or name")?
                        .id,
                ),
                None => None,
            };
            let filter = users::UserFilter {
                roles: (!roles.is_empty()).then_some(roles),
                unit_id,
                disabled,
                search,
            };
            println!("username\trole\tscope\tstate\tdisplay name");
            let mut window =
                crate::service::page::Window::first(crate::service::page::MAX_PAGE_SIZE);
            loop {
                let page = users::list(&conn, &system, &filter, window.clone())
                    .await
                    .map_err(|e| e.public_message())?;
                for u in &page.items {
                    let scope = match (u.scope_unit_id, u.scope_group_id) {
                        (Some(id), _) => units::get(&conn, &system, id)
                            .await
                            .map_err(|e| e.public_message())?
                            .map(|x| x.code.unwrap_or(x.name))
                            .unwrap_or_default(),
                        (None, Some(g)) => format!("group {g}"),
                        (None, None) => String::new(),
                    };
                    let state = match (u.disabled, u.must_change_password) {
                        (true, _) => "disabled",
                        (false, true) => "must change password",
                        (false, false) => "active",
                    };
                    println!(
                        "{}\t{}\t{}\t{}\t{}",
                        u.username,
                        u.role,
                        scope,
                        state,
                        u.display_name.as_deref().unwrap_or("")
                    );
                }
                if !page.has_next {
                    break;
                }
                window.after = page.cursors.last().cloned();
            }
        }
        UserAction::Update {
            username,
            role,
            scope,
            display_name,
        } => {
            let u = account(&conn, &username).await?;
            let role = role.as_deref().map(parse_role).transpose()?;
            let (scope_unit_id, scope_group_id) = match &scope {
                Some(s) => parse_scope(&conn, role.unwrap_or(u.role), s).await?,
                None => (None, None),
            };
            let changes = users::UserChanges {
                role,
                scope_unit_id,
                scope_group_id,
                member_id: None,
                display_name: display_name.map(|d| Some(d).filter(|d| !d.trim().is_empty())),
            };
            let u = users::update(&conn, &system, u.id, changes)
                .await
                .map_err(|e| e.public_message())?;
            println!("updated user {} ({})", u.username, u.role);
        }
        UserAction::ResetPassword { username } => {
            let u = account(&conn, &username).await?;
            let (u, otp) = users::reset_password(&conn, &system, u.id)
                .await
                .map_err(|e| e.public_message())?;
            println!(
                "one-time password for {}: {otp}\nit signs in once; the user must then choose a new password",
                u.username
            );
        }
    }
    Ok(())
}

async fn units_command(database_url: &str, action: UnitsAction) -> Result<(), String> {
    let conn = maintenance(database_url).await?;
    match action {
        UnitsAction::Import { file, check } => {
            let bytes = read(&file)?;
            let report = unit_files::import_units(&conn, &bytes, check, &printed_steps("units"))
                .await
                .map_err(|e| located(&file, e))?;
            let verb = if check { "would be" } else { "were" };
            println!("{}: {report} ({verb} applied)", file.display());
            Ok(())
        }
        UnitsAction::ApplyReform {
            mapping,
            units,
            effective,
            check,
        } => {
            let mapping_bytes = read(&mapping)?;
            let units_bytes = units.as_deref().map(read).transpose()?;
            let report = unit_files::apply_reform(
                &conn,
                &mapping_bytes,
                units_bytes.as_deref(),
                effective,
                check,
                &printed_steps("reform"),
            )
            .await
            .map_err(|e| {
                // A problem names a column of the file it was found in: unit-file columns
                // belong to `--units`, everything else to the mapping.
                located_by(e, |p| match (&units, p.column.as_deref()) {
                    (Some(units), Some(c)) if !unit_files::MAPPING_COLUMNS.contains(&c) => units,
                    _ => &mapping,
                })
            })?;
            if check {
                println!("checked, nothing written:\n{report}");
            } else {
                println!("applied:\n{report}");
            }
            Ok(())
        }
    }
}

/// A file error as the command prints it: each problem prefixed with the file's name.
fn located(file: &std::path::Path, e: unit_files::FileError) -> String {
    located_by(e, |_| file)
}

/// Like [`located`], with the file chosen per problem.
fn located_by<'a>(
    e: unit_files::FileError,
    file_of: impl Fn(&unit_files::Problem) -> &'a std::path::Path,
) -> String {
    match e {
        unit_files::FileError::Problems(ps) => ps
            .iter()
            .map(|p| format!("{}: {p}", file_of(p).display()))
            .collect::<Vec<_>>()
            .join("\n"),
        unit_files::FileError::Database(e) => e.public_message(),
    }
}

/// `cdtg init`: an empty database becomes a city with its first administrator.
async fn init(
    database_url: &str,
    units_file: &std::path::Path,
    admin_username: String,
) -> Result<(), String> {
    let bytes = read(units_file)?;
    // Everything that can be refused is checked before the first write.
    let username =
        cdtg_core::validate::login_name("adminUsername", &admin_username).map_err(|e| e.message)?;
    let password = password_from("CDTG_ADMIN_PASSWORD")?;
    cdtg_core::validate::password("password", &password).map_err(|e| e.message)?;
    let roots: Vec<unit_files::UnitRow> = unit_files::parse_units(&bytes, &Default::default())
        .map_err(|ps| located(units_file, unit_files::FileError::Problems(ps)))?
        .into_iter()
        .filter(|r| r.parent_code.is_none())
        .collect();
    let [root] = &roots[..] else {
        return Err(format!(
            "{}: the file must have exactly one root unit (a row without parent_code); it has {}",
            units_file.display(),
            roots.len()
        ));
    };
    let conn = maintenance(database_url).await?;
    if unit_files::has_units(&conn)
        .await
        .map_err(|e| e.public_message())?
    {
        return Err(
            "the database already holds units: `cdtg init` starts a city from an empty database; \
             use `cdtg units import` to update a running one"
                .into(),
        );
    }
    let admin = users::NewUser {
        username,
        password,
        role: cdtg_core::policy::Role::CityAdmin,
        scope_unit_id: None,
        scope_group_id: None,
        member_id: None,
    };
    let (report, user) = users::init_city(&conn, &bytes, &root.code, admin)
        .await
        .map_err(|e| located(units_file, e))?;
    println!(
        "{}: {report}; created CITY_ADMIN {} for {}",
        units_file.display(),
        user.username,
        root.name
    );
    Ok(())
}

async fn serve(database_url: &str, args: ServeArgs) -> Result<(), String> {
    let listener =
        TcpListener::bind(args.bind).map_err(|e| format!("binding {}: {e}", args.bind))?;
    let app = Application::build(database_url, &args, listener).await?;
    tracing::info!(address = %args.bind, "CDTG listening; GraphiQL at /graphiql");
    app.run_until_stopped().await.map_err(|e| e.to_string())
}
