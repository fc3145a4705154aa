//! The command line: `waitless` (= `waitless serve`) and the operator's tools.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{Config, ConfigError};

pub mod central;
pub mod data;
pub mod machine;
pub mod notify;
pub mod operator;

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
    /// Staff users (on the data folder; while the server runs, through its admin socket).
    User {
        /// What to do.
        #[command(subcommand)]
        action: UserCommand,
    },
    /// API tokens for other systems and scripts (like `user`, with or without the server).
    Token {
        /// What to do.
        #[command(subcommand)]
        action: TokenCommand,
    },
    /// The audit trail.
    Audit {
        /// What to do.
        #[command(subcommand)]
        action: AuditCommand,
    },
    /// Write a consistent, verified copy of the database to FILE, also while waitless serves
    /// (the server writes it: FILE's folder must be writable by the user running waitless).
    Backup {
        /// The backup file, e.g. /media/usb/waitless-2026-11-21.redb.
        file: PathBuf,
    },
    /// Put a backup in place of the database (stop waitless first); the current database is
    /// kept as waitless.redb.before-restore-<time>. Refuses a file that fails verification.
    Restore {
        /// The backup file.
        file: PathBuf,
    },
    /// Write the visits (tickets, no patients' names) of clinic days FROM to TO as CSV.
    Export {
        /// The first clinic day, YYYY-MM-DD.
        #[arg(long)]
        from: jiff::civil::Date,
        /// The last clinic day, YYYY-MM-DD.
        #[arg(long)]
        to: jiff::civil::Date,
        /// The CSV file (default: standard output). While waitless serves, the server writes
        /// it: its folder must be writable by the user running waitless.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// The central PostgreSQL that sites ship their event logs to (docs/multi-site.md).
    Central {
        /// What to do.
        #[command(subcommand)]
        action: CentralCommand,
    },
    /// Send a test text message or email to check `[notify]`: through the running server's
    /// sender, or (server stopped) straight from the configuration. Prints "sent" or why not.
    NotifyTest {
        /// The phone number (+91 98450 12345) or email address.
        #[arg(long)]
        to: String,
        /// sms or email.
        #[arg(long, default_value = "sms")]
        channel: String,
        /// The message's language (default: notify.language).
        #[arg(long)]
        language: Option<String>,
    },
    /// The serial ports, input devices and pager codes of this machine.
    Devices {
        /// What to do.
        #[command(subcommand)]
        action: DevicesCommand,
    },
}

/// `waitless central ...`
#[derive(Debug, Subcommand, Clone, PartialEq, Eq)]
pub enum CentralCommand {
    /// Create the central schema (events, sites, report views), or migrate it.
    Init {
        /// postgres://USER:PASSWORD@HOST:5432/DB (default: central.url; the environment keeps
        /// the password out of the process list).
        url: Option<String>,
    },
    /// Check every site's hash chain in the central database; exit 1 if one is broken.
    Verify {
        /// As for init.
        url: Option<String>,
        /// Only this site.
        #[arg(long)]
        site: Option<String>,
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

/// `waitless user ...`
#[derive(Debug, Subcommand, Clone, PartialEq, Eq)]
pub enum UserCommand {
    /// Add a user; the password is read from the terminal (twice) or from stdin (one line).
    Add {
        /// Login name (lowercase letters, digits, '-', '.', '_').
        name: String,
        /// Role: admin, reception, doctor or manager (repeat for several).
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        /// A doctor's room (repeat for several).
        #[arg(long = "room")]
        rooms: Vec<String>,
    },
    /// List the users.
    List,
    /// Set a user's password (and end their sessions).
    Passwd {
        /// Login name.
        name: String,
    },
    /// Disable a user: they cannot log in, and their sessions end.
    Disable {
        /// Login name.
        name: String,
    },
    /// Enable a disabled user again.
    Enable {
        /// Login name.
        name: String,
    },
}

/// `waitless token ...`
#[derive(Debug, Subcommand, Clone, PartialEq, Eq)]
pub enum TokenCommand {
    /// Create a token; it is printed once.
    Create {
        /// What it is for, e.g. his-bridge.
        #[arg(long)]
        name: String,
        /// Its role: admin, reception, doctor or manager.
        #[arg(long)]
        role: String,
    },
    /// List the tokens (never the secrets).
    List,
    /// Revoke a token by its id.
    Revoke {
        /// The id `token list` shows.
        id: String,
    },
}

/// `waitless audit ...`
#[derive(Debug, Subcommand, Clone, PartialEq, Eq)]
pub enum AuditCommand {
    /// Check the event log's hash chain; exit 1 if it was changed.
    Verify,
}

/// Runs what the command line asks: serves, or one of the operator's commands. The exit code
/// is 2 for a bad configuration or usage, 1 for a failure.
pub fn run(cli: Cli) -> ExitCode {
    let config = match cli.load_config() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("waitless: {e}");
            return ExitCode::from(2);
        }
    };
    match cli.command.clone().unwrap_or(CliCommand::Serve) {
        CliCommand::CheckConfig => machine::check_config(&config),
        CliCommand::PrintTest => machine::print_test(&config),
        CliCommand::User { action } => operator::user(&config, action),
        CliCommand::Token { action } => operator::token(&config, action),
        CliCommand::Audit {
            action: AuditCommand::Verify,
        } => operator::audit_verify(&config),
        CliCommand::Backup { file } => data::backup(&config, &file),
        CliCommand::Restore { file } => data::restore(&config, &file),
        CliCommand::Export { from, to, out } => data::export(&config, from, to, out.as_deref()),
        CliCommand::Central {
            action: CentralCommand::Init { url },
        } => central::init(&config, url.as_deref()),
        CliCommand::Central {
            action: CentralCommand::Verify { url, site },
        } => central::verify(&config, url.as_deref(), site.as_deref()),
        CliCommand::NotifyTest {
            to,
            channel,
            language,
        } => notify::notify_test(&config, &to, &channel, language),
        CliCommand::Devices {
            action: DevicesCommand::List,
        } => machine::devices_list(),
        CliCommand::Devices {
            action: DevicesCommand::Learn { port, baud, count },
        } => machine::devices_learn(&config, port, baud, count),
        CliCommand::Serve => {
            init_logging(&config);
            match actix_rt::System::new().block_on(crate::app::serve(config)) {
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

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&config.log.level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
