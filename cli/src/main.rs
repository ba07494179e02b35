//! `bindfs-rs`: Windows-style bind links (shadow, anchorless, merged, read-only) on any directory.
//!
//! Errors are reported in one place: one line on stderr naming the problem, exit status 1.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[cfg(target_os = "linux")]
mod demo;

/// Windows-style bind links on any directory.
#[derive(Debug, Parser)]
#[command(name = "bindfs-rs", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Build a small tree in a temporary directory, make a shadow, a merged, a read-only and an
    /// anchorless link over it, and print what a user sees through them.
    Demo,
}

fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        #[cfg(target_os = "linux")]
        Command::Demo => demo::run(&mut std::io::stdout().lock()),
        #[cfg(not(target_os = "linux"))]
        Command::Demo => Err("the demo needs the Linux backing store".into()),
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("bindfs-rs: {message}");
            ExitCode::FAILURE
        }
    }
}
