//! The command line: `waitless` (= `waitless serve`) and the operator's tools.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::{Config, ConfigError};

/// waitless: the clinic's queue — kiosk, ticket printer, waiting-room display, staff console.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
pub struct Cli {
    /// Configuration file (TOML); without it waitless runs on defaults.
    #[arg(long, env = "WAITLESS_CONFIG", global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address and port to serve on [default: 0.0.0.0:8080].
    #[arg(long, env = "WAITLESS_BIND", global = true, value_name = "ADDR")]
    pub bind: Option<String>,
    /// Data folder, where the database lives [default: ./data].
    #[arg(long, env = "WAITLESS_DATA", global = true, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Option<CliCommand>,
}

/// Subcommands.
#[derive(Debug, Subcommand, Clone, PartialEq, Eq)]
pub enum CliCommand {
    /// Serve the kiosk, displays, staff console and API (the default).
    Serve,
    /// Check the configuration (file, environment, flags) and print the result.
    CheckConfig,
    /// Print a test ticket on the configured printer and show its status.
    PrintTest,
    /// The serial ports, input devices and pager codes of this machine.
    Devices {
        /// What to do.
        #[command(subcommand)]
        action: DevicesCommand,
    },
}

/// `waitless devices ...`
#[derive(Debug, Subcommand, Clone, PartialEq, Eq)]
pub enum DevicesCommand {
    /// List serial ports and input devices (keypads, pedals).
    List,
    /// Listen on a serial receiver and print each code received, ready to paste into
    /// `[serial.receivers] codes`. Stop waitless first: only one program can hold the port.
    Learn {
        /// The port; default: the first configured receiver's (its baud and framing too).
        #[arg(long)]
        port: Option<String>,
        /// Bits per second (with --port).
        #[arg(long, default_value_t = 9600)]
        baud: u32,
        /// Stop after this many codes (default: until Ctrl-C).
        #[arg(long)]
        count: Option<usize>,
    },
}

impl Cli {
    /// The configuration: defaults, file, `WAITLESS_*` environment, then these flags.
    pub fn load_config(&self) -> Result<Config, ConfigError> {
        let env = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)));
        let mut config = Config::load(self.config.as_deref(), env)?;
        if let Some(bind) = &self.bind {
            config.bind.clone_from(bind);
        }
        if let Some(data) = &self.data {
            config.data.clone_from(data);
        }
        config.validate()?;
        Ok(config)
    }
}
