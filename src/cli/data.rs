//! The operator's commands on the data itself: `waitless backup FILE`, `waitless restore FILE`,
//! `waitless export --from --to [--out FILE]`. A backup and an export read the database
//! read-only when the server is stopped, and ask the server over the admin socket while it runs
//! (it holds the database; it writes the file then). A restore needs the server stopped.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use jiff::civil::Date;

use crate::backup as exporting;
use crate::cli::operator::{ask, fail, unexpected};
use crate::clock::{Clock as _, SystemClock};
use crate::config::Config;
use crate::control;
use crate::staff::{StaffAnswer, StaffRequest};
use crate::store::StoreError;
use crate::store::backup::{self, BackupError};

/// `path` made absolute against this process's folder (the server has another).
fn absolute(path: &Path) -> Result<PathBuf, ExitCode> {
    std::path::absolute(path).map_err(|e| fail(format!("{}: {e}", path.display())))
}

/// Whether an error means the server holds the database.
fn in_use(e: &BackupError) -> bool {
    matches!(e, BackupError::Store(StoreError::InUse(_)))
}

/// `waitless backup FILE`
pub fn backup(config: &Config, file: &Path) -> ExitCode {
    let target = match absolute(file) {
        Ok(target) => target,
        Err(code) => return code,
    };
    let database = config.database_path();
    let report = match backup::backup_file(&database, &target) {
        Ok(report) => Ok(report),
        Err(e) if in_use(&e) => {
            let request = StaffRequest::Backup { file: target };
            match ask(&database, &control::socket_path(&config.data), &request) {
                Ok(StaffAnswer::Backup { report }) => Ok(report),
                Ok(other) => return unexpected(&other),
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(e.to_string()),
    };
    match report {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(format!("backup failed: {e}")),
    }
}

/// `waitless restore FILE`
pub fn restore(config: &Config, file: &Path) -> ExitCode {
    let database = config.database_path();
    let stamp = SystemClock.now().strftime("%Y%m%dT%H%M%SZ").to_string();
    match backup::restore(file, &database, &stamp) {
        Ok(restored) => {
            println!("restored {} to {}", file.display(), database.display());
            println!("{}", restored.report);
            match restored.kept {
                Some(kept) => println!("the previous database is kept as {}", kept.display()),
                None => println!("there was no database before"),
            }
            println!("start waitless again (sudo systemctl start waitless)");
            ExitCode::SUCCESS
        }
        Err(e) => fail(format!("restore refused: {e}")),
    }
}

/// `waitless export --from --to [--out FILE]`
pub fn export(config: &Config, from: Date, to: Date, out: Option<&Path>) -> ExitCode {
    if let Err(e) = exporting::check_range(from, to) {
        return fail(e);
    }
    let out = match out.map(absolute).transpose() {
        Ok(out) => out,
        Err(code) => return code,
    };
    let database = config.database_path();
    let offline = backup::tickets_of_days_in_file(&database, from, to).and_then(|tickets| {
        let tz = exporting::time_zone(&config.clinic.timezone)?;
        exporting::deliver(&tickets, &tz, out.as_deref())
    });
    let exported = match offline {
        Ok(exported) => Ok((exported.visits, exported.csv)),
        Err(e) if in_use(&e) => {
            let request = StaffRequest::Export {
                from,
                to,
                timezone: config.clinic.timezone.clone(),
                out: out.clone(),
            };
            match ask(&database, &control::socket_path(&config.data), &request) {
                Ok(StaffAnswer::Export { visits, csv }) => Ok((visits, csv)),
                Ok(other) => return unexpected(&other),
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(e.to_string()),
    };
    match exported {
        Ok((visits, csv)) => {
            if let Some(csv) = csv {
                print!("{csv}");
            }
            match &out {
                Some(out) => eprintln!("{visits} visits written to {}", out.display()),
                None => eprintln!("{visits} visits"),
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(format!("export failed: {e}")),
    }
}
