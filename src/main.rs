//! The `machimap` command: serve the catalog, validate it, or generate the sample town.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use machimap::catalog::{Catalog, LayerReport, LiveCatalog, LoadError};
use machimap::http::{AppState, router};

#[derive(Parser)]
#[command(
    name = "machimap",
    version,
    about = "まちマップ — integrated GIS map server (OGC API – Features)"
)]
struct Cli {
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
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Serve { data, bind } => serve(data, bind),
        Command::Validate { dir } => validate(dir),
        Command::Sample { out, scale } => match machimap::sample::generate(&out, scale) {
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

fn serve(data: PathBuf, bind: SocketAddr) -> ExitCode {
    let (catalog, reports) = match Catalog::load(&data) {
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
    let live = Arc::new(LiveCatalog::new(catalog));
    let result = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(bind).await?;
        println!("machimap listening on http://{}", listener.local_addr()?);
        tokio::spawn(reload_on_sighup(data.clone(), Arc::clone(&live)));
        axum::serve(listener, router(AppState { catalog: live }))
            .with_graceful_shutdown(shutdown_signal())
            .await
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
async fn reload_on_sighup(data: PathBuf, live: Arc<LiveCatalog>) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        return;
    };
    while hup.recv().await.is_some() {
        let dir = data.clone();
        match tokio::task::spawn_blocking(move || Catalog::load(&dir)).await {
            Ok(Ok((catalog, reports))) => {
                print_reports(&reports);
                live.replace(catalog);
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
