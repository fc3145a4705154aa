//! `waitless central init [URL]` and `waitless central verify [URL] [--site S]`: the central
//! PostgreSQL's schema and the check of every site's hash chain (docs/multi-site.md). Without
//! URL they use `central.url` (the file or `WAITLESS_CENTRAL__URL`, which keeps the password
//! out of the process list). They only talk to PostgreSQL: the local database is not opened.

use std::process::ExitCode;

use crate::central::{self, CentralError};
use crate::cli::operator::fail;
use crate::config::Config;

/// The URL: the argument, else the configuration's.
fn url(config: &Config, url: Option<&str>) -> Result<String, ExitCode> {
    match url.filter(|u| !u.is_empty()) {
        Some(u) => Ok(u.to_owned()),
        None if !config.central.url.is_empty() => Ok(config.central.url.clone()),
        None => Err(fail(
            "name the central database: waitless central init postgres://USER@HOST/DB (or set \
             central.url / WAITLESS_CENTRAL__URL)",
        )),
    }
}

/// Runs `work` on a small runtime of its own.
fn block_on<T>(work: impl Future<Output = Result<T, CentralError>>) -> Result<T, CentralError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CentralError::Task(e.to_string()))?
        .block_on(work)
}

/// `waitless central init [URL]`: creates or migrates the central schema.
pub fn init(config: &Config, url: Option<&str>) -> ExitCode {
    let url = match self::url(config, url) {
        Ok(u) => u,
        Err(code) => return code,
    };
    let ca_file = config.central.ca_file.clone();
    let result = block_on(async move {
        let pg = central::parse_url(&url)?;
        let mut client = central::connect(&pg, &ca_file).await?;
        let applied = central::schema::init(&mut client).await?;
        Ok((central::describe(&pg), applied))
    });
    match result {
        Ok((target, applied)) if applied.is_empty() => {
            println!(
                "central schema on {target} is current (version {})",
                central::schema::CENTRAL_SCHEMA_VERSION
            );
            ExitCode::SUCCESS
        }
        Ok((target, applied)) => {
            let list: Vec<String> = applied.iter().map(ToString::to_string).collect();
            println!(
                "central schema on {target}: applied version {}; now at version {}",
                list.join(", "),
                central::schema::CENTRAL_SCHEMA_VERSION
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(e.to_string()),
    }
}

/// `waitless central verify [URL] [--site S]`: exit 1 if a chain is broken.
pub fn verify(config: &Config, url: Option<&str>, site: Option<&str>) -> ExitCode {
    let url = match self::url(config, url) {
        Ok(u) => u,
        Err(code) => return code,
    };
    let ca_file = config.central.ca_file.clone();
    let site = site.map(str::to_owned);
    let result = block_on(async move {
        let pg = central::parse_url(&url)?;
        let client = central::connect(&pg, &ca_file).await?;
        central::verify(&client, site.as_deref()).await
    });
    match result {
        Ok(findings) if findings.is_empty() => fail("no such site in the central database"),
        Ok(findings) => {
            for finding in &findings {
                println!("{finding}");
            }
            if findings.iter().all(central::ChainFinding::is_ok) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => fail(e.to_string()),
    }
}
