//! The `waitless` binary: parse the command line, load the configuration, start logging, run.

use std::process::ExitCode;

use clap::Parser;
use waitless::cli::{Cli, CliCommand};
use waitless::config::Config;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match cli.load_config() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("waitless: {e}");
            return ExitCode::from(2);
        }
    };
    match cli.command.unwrap_or(CliCommand::Serve) {
        CliCommand::CheckConfig => check_config(&config),
        CliCommand::Serve => {
            init_logging(&config);
            match actix_rt::System::new().block_on(waitless::app::serve(config)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!("{e:#}");
                    eprintln!("waitless: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

fn check_config(config: &Config) -> ExitCode {
    match toml::to_string_pretty(config) {
        Ok(text) => {
            println!("# configuration OK — effective settings:\n{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("waitless: cannot print the configuration: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&config.log.level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
