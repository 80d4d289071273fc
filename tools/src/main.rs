//! `keel`: the benchmark harness and inspection tools.

mod bench;
mod wal;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "keel", version, about = "Keel's benchmark harness and tools")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run benchmark scenarios: each measures Keel and its peers side by
    /// side in one run and prints ratios.
    Bench {
        /// Scenarios to run (default: all). Known: see `keel bench --list`.
        scenarios: Vec<String>,
        /// Short runs (fewer rounds, smaller sizes) for CI and smoke checks.
        #[arg(long)]
        quick: bool,
        /// Also write the results as JSON to this path.
        #[arg(long, value_name = "PATH")]
        json: Option<PathBuf>,
        /// List the scenarios and what each measures.
        #[arg(long)]
        list: bool,
    },
    /// Inspect or verify WAL segments.
    Wal {
        #[command(subcommand)]
        action: wal::WalCommand,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KEEL_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Bench {
            scenarios,
            quick,
            json,
            list,
        } => {
            if list {
                bench::list();
                Ok(())
            } else {
                bench::run(&scenarios, quick, json.as_deref())
            }
        }
        Command::Wal { action } => return wal::run(action),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("keel: {e}");
            ExitCode::FAILURE
        }
    }
}
