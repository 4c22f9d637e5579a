//! The `machimap` command: serve the catalog, validate it, or generate the sample town.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use machimap::access::{Catalog, LayerReport, LiveCatalog, LoadError};
use machimap::auth::{ADMIN_ROLE, Actor, Auth, Clock, Policy};
use machimap::edit::Editor;
use machimap::edit_store::EditStore;
use machimap::edit_store::gpkg::GeoPackage;
use machimap::http::serve::ConnectionLimits;
use machimap::http::{AppState, router};
use machimap::store::Store;

#[derive(Parser)]
#[command(
    name = "machimap",
    version,
    about = "まちマップ — integrated GIS map server (OGC API – Features)"
)]
struct Cli {
    /// The store of staff users, sessions and the audit log (SQLite; created if missing).
    #[arg(
        long,
        global = true,
        env = "MACHIMAP_STORE",
        default_value = "var/machimap.sqlite"
    )]
    store: PathBuf,
    /// The edit store of editable layers (reports, inspections): a GeoPackage that QGIS and
    /// GDAL open as it is (created if missing).
    #[arg(
        long,
        global = true,
        env = "MACHIMAP_EDITS",
        default_value = "var/edits.gpkg"
    )]
    edits: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Load every layer of the catalog and serve them.
    Serve {
        /// Data folder holding catalog.toml and the layer files.
        #[arg(long, default_value = "data")]
        data: PathBuf,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        bind: SocketAddr,
    },
    /// Check the catalog and every source file; print every problem found.
    Validate {
        /// Data folder holding catalog.toml.
        #[arg(default_value = "data")]
        dir: PathBuf,
    },
    /// Write the sample town (and its catalog) into a folder.
    Sample {
        /// Output folder.
        #[arg(long, default_value = "data")]
        out: PathBuf,
        /// Size multiplier: 1 is the committed sample, larger sizes are for benchmarks.
        #[arg(long, default_value_t = 1)]
        scale: u32,
    },
    /// Manage staff users (the first admin is created here).
    #[command(subcommand)]
    User(UserCommand),
    /// Manage roles.
    #[command(subcommand)]
    Role(RoleCommand),
    /// Print the audit log, newest first.
    Audit {
        /// Only this user's entries.
        #[arg(long)]
        actor: Option<String>,
        /// How many entries.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user; the password is asked for (or read from stdin with --password-stdin).
    Add {
        name: String,
        /// Department, e.g. 情報政策課.
        #[arg(long)]
        department: String,
        /// Comma-separated roles, e.g. admin,staff.
        #[arg(long, value_delimiter = ',')]
        roles: Vec<String>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users with their department and roles.
    List,
    /// Replace a user's roles (effective on their next request).
    Roles {
        name: String,
        /// Comma-separated roles; empty for none.
        #[arg(long, value_delimiter = ',', num_args = 0..)]
        set: Vec<String>,
    },
    /// Set a new password; the user's sessions end.
    Passwd {
        name: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Delete a user; their sessions end.
    Delete { name: String },
}

#[derive(Subcommand)]
enum RoleCommand {
    /// Create a role.
    Add {
        name: String,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List roles.
    List,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { data, bind } => serve(data, bind, &cli.store, &cli.edits),
        Command::User(cmd) => admin_command(&cli.store, |auth| user_command(auth, cmd)),
        Command::Role(cmd) => admin_command(&cli.store, |auth| role_command(auth, cmd)),
        Command::Audit { actor, limit } => admin_command(&cli.store, |auth| {
            let filter = machimap::audit::Filter {
                actor,
                limit,
                ..Default::default()
            };
            let (entries, total) = machimap::audit::list(auth.store(), &filter)?;
            for e in entries.iter().rev() {
                println!(
                    "{} {:<16} {:<16} {:<20} {} {}",
                    e.at, e.actor, e.action, e.target, e.client, e.detail
                );
            }
            println!("{} of {total} entries", entries.len());
            Ok(())
        }),
        Command::Validate { dir } => validate(dir),
        Command::Sample { out, scale } => match machimap_sample::generate(&out, scale) {
            Ok(summary) => {
                for (id, n) in summary.layers {
                    println!("{id}: {n} features");
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}

fn print_reports(reports: &[LayerReport]) {
    for r in reports {
        println!(
            "{:<24} {:>8} features  {:>8.1} ms",
            r.id,
            r.features,
            r.elapsed.as_secs_f64() * 1e3
        );
    }
}

fn print_problems(e: &LoadError) {
    for line in e.lines() {
        eprintln!("error: {line}");
    }
}

fn validate(dir: PathBuf) -> ExitCode {
    match Catalog::load(&dir) {
        Ok((_, reports)) => {
            print_reports(&reports);
            println!(
                "{}: catalog and {} layer(s) are valid",
                dir.display(),
                reports.len()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            print_problems(&e);
            eprintln!("{}: {} problem(s)", dir.display(), e.lines().len());
            ExitCode::FAILURE
        }
    }
}

/// The actor the command line acts as in the audit log: the OS user at the terminal.
fn cli_actor() -> String {
    format!(
        "cli:{}",
        std::env::var("USER").unwrap_or_else(|_| "unknown".into())
    )
}

fn admin_command(store: &Path, f: impl FnOnce(&Auth) -> anyhow::Result<()>) -> ExitCode {
    let run = || -> anyhow::Result<()> {
        let store = Arc::new(Store::open(store)?);
        let auth = Auth::new(store, Clock::System, Policy::default())?;
        f(&auth)
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn read_password(from_stdin: bool) -> anyhow::Result<String> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_string());
    }
    let first = rpassword::prompt_password("password: ")?;
    let again = rpassword::prompt_password("again: ")?;
    anyhow::ensure!(first == again, "the two passwords differ");
    Ok(first)
}

fn user_command(auth: &Auth, cmd: UserCommand) -> anyhow::Result<()> {
    let actor_name = cli_actor();
    let actor = Actor {
        name: &actor_name,
        client: "cli",
    };
    match cmd {
        UserCommand::Add {
            name,
            department,
            roles,
            password_stdin,
        } => {
            let password = read_password(password_stdin)?;
            let user = auth.add_user(actor, &name, &department, &roles, &password)?;
            println!(
                "created user {} ({}) with roles [{}]",
                user.name,
                user.department,
                join(&user.roles)
            );
        }
        UserCommand::List => {
            for u in auth.users()? {
                println!("{:<24} {:<16} [{}]", u.name, u.department, join(&u.roles));
            }
        }
        UserCommand::Roles { name, set } => {
            let set: Vec<String> = set.into_iter().filter(|r| !r.is_empty()).collect();
            let user = auth.set_roles(actor, &name, &set)?;
            println!("{} now has roles [{}]", user.name, join(&user.roles));
        }
        UserCommand::Passwd {
            name,
            password_stdin,
        } => {
            let password = read_password(password_stdin)?;
            auth.set_password(actor, &name, &password)?;
            println!("password of {name} changed; their sessions have ended");
        }
        UserCommand::Delete { name } => {
            auth.delete_user(actor, &name)?;
            println!("deleted user {name}");
        }
    }
    Ok(())
}

fn role_command(auth: &Auth, cmd: RoleCommand) -> anyhow::Result<()> {
    match cmd {
        RoleCommand::Add { name, description } => {
            let actor_name = cli_actor();
            let actor = Actor {
                name: &actor_name,
                client: "cli",
            };
            match auth.add_role(actor, &name, &description) {
                Ok(()) => println!("role {name} created"),
                Err(machimap::auth::AuthError::RoleExists(_)) => {
                    println!("role {name} exists already")
                }
                Err(e) => return Err(e.into()),
            }
        }
        RoleCommand::List => {
            for (name, description) in auth.roles()? {
                println!("{name:<16} {description}");
            }
        }
    }
    Ok(())
}

fn join(roles: &std::collections::BTreeSet<String>) -> String {
    roles
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Roles named by layer or attribute audiences that the store does not know: nobody can be
/// given them, so those layers would be visible to no one.
fn unknown_audience_roles(catalog: &Catalog, auth: &Auth) -> anyhow::Result<Vec<String>> {
    let known: std::collections::BTreeSet<String> =
        auth.roles()?.into_iter().map(|(n, _)| n).collect();
    let missing = catalog
        .audience_roles()
        .into_iter()
        .filter(|r| !known.contains(r));
    Ok(missing.into_iter().collect())
}

fn serve(data: PathBuf, bind: SocketAddr, store_path: &Path, edits_path: &Path) -> ExitCode {
    let edits: Arc<dyn EditStore> = match GeoPackage::open(edits_path) {
        Ok(g) => Arc::new(g),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (catalog, reports) = match Catalog::load_with(&data, Some(edits.as_ref())) {
        Ok(c) => c,
        Err(e) => {
            print_problems(&e);
            eprintln!(
                "not starting: the catalog in {} has problems",
                data.display()
            );
            return ExitCode::FAILURE;
        }
    };
    print_reports(&reports);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let store = match Store::open(store_path) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let live = Arc::new(LiveCatalog::new(catalog));
    let editor = Arc::new(Editor::new(edits, Arc::clone(&live)));
    let state = match AppState::new(Arc::clone(&live), store) {
        Ok(s) => s.with_editor(Arc::clone(&editor)),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match unknown_audience_roles(&live.snapshot(), &state.auth) {
        Ok(missing) if !missing.is_empty() => eprintln!(
            "warning: the catalog names roles the store does not have: {} (add them with `machimap role add`)",
            missing.join(", ")
        ),
        Ok(_) => {}
        Err(e) => eprintln!("warning: cannot list roles: {e:#}"),
    }
    match state.auth.users() {
        Ok(users) if !users.iter().any(|u| u.roles.contains(ADMIN_ROLE)) => eprintln!(
            "note: no admin yet; create one with `machimap user add NAME --department 情報政策課 --roles admin,staff`"
        ),
        Ok(_) => {}
        Err(e) => eprintln!("warning: cannot list users: {e}"),
    }
    let limits = ConnectionLimits::new(&state.security);
    let result = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(bind).await?;
        println!("machimap listening on http://{}", listener.local_addr()?);
        tokio::spawn(reload_on_sighup(data.clone(), editor));
        machimap::http::serve::run(listener, router(state), limits, shutdown_signal()).await;
        Ok::<(), std::io::Error>(())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// On SIGHUP, load the catalog again and swap it in only if every layer loads.
async fn reload_on_sighup(data: PathBuf, editor: Arc<Editor>) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        return;
    };
    while hup.recv().await.is_some() {
        let dir = data.clone();
        let editor = Arc::clone(&editor);
        match tokio::task::spawn_blocking(move || editor.reload(&dir)).await {
            Ok(Ok(reports)) => {
                print_reports(&reports);
                tracing::info!("catalog reloaded");
            }
            Ok(Err(e)) => {
                print_problems(&e);
                tracing::warn!("reload refused; still serving the previous catalog");
            }
            Err(e) => tracing::error!(%e, "reload task failed"),
        }
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let term = async {
        if let Ok(mut s) = signal(SignalKind::terminate()) {
            s.recv().await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term => {},
    }
}
