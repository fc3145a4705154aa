//! The operator's commands on the data itself: `waitless backup FILE`, `waitless restore FILE`,
//! `waitless export --from --to [--out FILE]`. A backup and an export read the database
//! read-only when the server is stopped. While it runs (it holds the database), they ask it
//! over the admin socket: the server writes the file into its data folder (the one folder the
//! hardened service may write; its /tmp is private), and this process — the operator's, root
//! or the waitless user — moves it where asked. A restore needs the server stopped.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use jiff::civil::Date;

use crate::backup as exporting;
use crate::cli::operator::{ask, fail};
use crate::clock::{Clock as _, SystemClock};
use crate::config::Config;
use crate::control;
use crate::staff::{StaffAnswer, StaffRequest};
use crate::store::StoreError;
use crate::store::backup::{self, BackupError, BackupReport};

/// `path` made absolute against this process's folder.
fn absolute(path: &Path) -> Result<PathBuf, ExitCode> {
    std::path::absolute(path).map_err(|e| fail(format!("{}: {e}", path.display())))
}

/// Whether an error means the server holds the database.
fn in_use(e: &BackupError) -> bool {
    matches!(e, BackupError::Store(StoreError::InUse(_)))
}

/// Moves the file the server made (`staged`, in the data folder) to `target`: a rename, or a
/// copy made durable and renamed into place when `target` is on another file system (a USB
/// stick). `staged` is gone afterwards, whatever happened.
fn place(staged: &Path, target: &Path) -> Result<(), String> {
    let result = (|| {
        if target.is_dir() {
            return Err(format!(
                "{} is a folder: name a file in it",
                target.display()
            ));
        }
        match std::fs::rename(staged, target) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::CrossesDevices => {}
            Err(e) => return Err(format!("cannot write {}: {e}", target.display())),
        }
        let name = target
            .file_name()
            .map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
        let partial = target.with_file_name(format!(".{name}.partial"));
        let copied = std::fs::copy(staged, &partial)
            .and_then(|_| std::fs::File::open(&partial)?.sync_all())
            .and_then(|()| std::fs::rename(&partial, target));
        if let Err(e) = copied {
            let _ = std::fs::remove_file(&partial);
            return Err(format!(
                "cannot write {}: {e} — check that the folder exists (is the USB stick \
                 mounted?) and is writable",
                target.display()
            ));
        }
        if let Some(dir) = target.parent()
            && let Ok(dir) = std::fs::File::open(dir)
        {
            let _ = dir.sync_all();
        }
        Ok(())
    })();
    let _ = std::fs::remove_file(staged);
    result
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
        Err(e) if in_use(&e) => online_backup(config, &database, &target),
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

/// The server makes the backup; it is moved to `target` and checked there again.
fn online_backup(config: &Config, database: &Path, target: &Path) -> Result<BackupReport, String> {
    let socket = control::socket_path(&config.data);
    let mut report = match ask(database, &socket, &StaffRequest::Backup)? {
        StaffAnswer::Backup { report } => report,
        other => return Err(format!("unexpected answer: {other:?}")),
    };
    place(&report.file, target)?;
    let check = backup::check_backup(target).map_err(|e| e.to_string())?;
    if check.head_hex() != report.head {
        return Err(format!(
            "the copy at {} differs from the backup the server made",
            target.display()
        ));
    }
    report.file = target.to_owned();
    report.bytes = std::fs::metadata(target).map_or(report.bytes, |m| m.len());
    Ok(report)
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
        match &out {
            Some(out) => exporting::write_file(&tickets, &tz, out),
            None => exporting::write_visits(&tickets, &tz, std::io::stdout().lock())
                .map_err(|e| BackupError::Invalid(format!("cannot print: {e}"))),
        }
    });
    let visits = match offline {
        Ok(visits) => Ok(visits),
        Err(e) if in_use(&e) => online_export(config, &database, from, to, out.as_deref()),
        Err(e) => Err(e.to_string()),
    };
    match visits {
        Ok(visits) => {
            match &out {
                Some(out) => eprintln!("{visits} visits written to {}", out.display()),
                None => eprintln!("{visits} visits"),
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(format!("export failed: {e}")),
    }
}

/// The server writes the CSV; it is moved to `out`, or printed.
fn online_export(
    config: &Config,
    database: &Path,
    from: Date,
    to: Date,
    out: Option<&Path>,
) -> Result<u64, String> {
    let request = StaffRequest::Export {
        from,
        to,
        timezone: config.clinic.timezone.clone(),
    };
    let socket = control::socket_path(&config.data);
    let (visits, file) = match ask(database, &socket, &request)? {
        StaffAnswer::Export { visits, file } => (visits, file),
        other => return Err(format!("unexpected answer: {other:?}")),
    };
    match out {
        Some(out) => place(&file, out)?,
        None => {
            let printed = std::fs::File::open(&file).and_then(|mut csv| {
                let mut stdout = std::io::stdout().lock();
                std::io::copy(&mut csv, &mut stdout)?;
                stdout.flush()
            });
            let _ = std::fs::remove_file(&file);
            printed.map_err(|e| format!("cannot print: {e}"))?;
        }
    }
    Ok(visits)
}
