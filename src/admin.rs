//! The operator's commands on the data folder: `waitless user`, `waitless token`,
//! `waitless audit verify`. They open the database themselves, so they work while the server is
//! stopped; while it runs, the database is locked and they say so.

use std::collections::BTreeSet;
use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;
use std::sync::Arc;

use waitless::auth::{Auth, Role};
use waitless::cli::{TokenCommand, UserCommand};
use waitless::clock::SystemClock;
use waitless::config::Config;
use waitless::domain::RoomId;
use waitless::store::{Store, StoreError, StoreOptions};

/// Opens the database for a command, or says why not.
fn open(config: &Config) -> Result<Arc<Store>, ExitCode> {
    let path = config.database_path();
    match Store::open(
        &path,
        &StoreOptions {
            fsync: true,
            cache_bytes: 1 << 20,
        },
    ) {
        Ok(store) => Ok(Arc::new(store)),
        Err(StoreError::InUse(_)) => {
            eprintln!(
                "waitless: {} is in use by the running waitless: stop it first (sudo systemctl \
                 stop waitless), run this command, then start it again",
                path.display()
            );
            Err(ExitCode::FAILURE)
        }
        Err(e) => {
            eprintln!("waitless: cannot open {}: {e}", path.display());
            Err(ExitCode::FAILURE)
        }
    }
}

fn close(store: Arc<Store>) {
    if let Ok(store) = Arc::try_unwrap(store)
        && let Err(e) = store.close()
    {
        eprintln!("waitless: closing the database: {e}");
    }
}

/// A password from the terminal (asked twice, not echoed) or one line of stdin.
fn read_password(name: &str) -> Result<String, String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(format!("password for {name}: "))
            .map_err(|e| e.to_string())?;
        let second = rpassword::prompt_password("the same again: ").map_err(|e| e.to_string())?;
        if first != second {
            return Err("the two passwords differ".to_owned());
        }
        Ok(first)
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        Ok(line.trim_end_matches(['\r', '\n']).to_owned())
    }
}

fn fail(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("waitless: {e}");
    ExitCode::FAILURE
}

/// `waitless user ...`
pub fn user(config: &Config, action: UserCommand) -> ExitCode {
    // Check what can be checked before asking for a password.
    let (roles, rooms) = match &action {
        UserCommand::Add { roles, rooms, .. } => {
            let roles: Result<BTreeSet<Role>, _> = roles.iter().map(|r| r.parse()).collect();
            let rooms: Result<Vec<RoomId>, _> = rooms.iter().map(|r| RoomId::parse(r)).collect();
            match (roles, rooms) {
                (Ok(roles), Ok(rooms)) => (roles, rooms),
                (Err(e), _) => return fail(e),
                (_, Err(e)) => return fail(e),
            }
        }
        _ => (BTreeSet::new(), Vec::new()),
    };
    let store = match open(config) {
        Ok(store) => store,
        Err(code) => return code,
    };
    let auth = Auth::new(Arc::clone(&store), Arc::new(SystemClock));
    let code = match action {
        UserCommand::Add { name, .. } => match read_password(&name)
            .map_err(|e| format!("cannot read the password: {e}"))
            .and_then(|pw| {
                auth.add_user(&name, &pw, roles, rooms)
                    .map_err(|e| e.to_string())
            }) {
            Ok(user) => {
                let roles: Vec<&str> = user.roles.iter().map(|r| r.as_str()).collect();
                println!("added {} ({})", user.name, roles.join(", "));
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
        UserCommand::List => match auth.users() {
            Ok(users) => {
                for u in users {
                    let roles: Vec<&str> = u.roles.iter().map(|r| r.as_str()).collect();
                    let rooms: Vec<&str> = u.rooms.iter().map(RoomId::as_str).collect();
                    println!(
                        "{}\t{}\t{}{}",
                        u.name,
                        roles.join(","),
                        rooms.join(","),
                        if u.disabled { "\tdisabled" } else { "" }
                    );
                }
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
        UserCommand::Passwd { name } => match read_password(&name)
            .map_err(|e| format!("cannot read the password: {e}"))
            .and_then(|pw| auth.set_password(&name, &pw).map_err(|e| e.to_string()))
        {
            Ok(_) => {
                println!("password of {name} changed; their sessions are ended");
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
    };
    drop(auth);
    close(store);
    code
}

/// `waitless token ...`
pub fn token(config: &Config, action: TokenCommand) -> ExitCode {
    let store = match open(config) {
        Ok(store) => store,
        Err(code) => return code,
    };
    let auth = Auth::new(Arc::clone(&store), Arc::new(SystemClock));
    let code = match action {
        TokenCommand::Create { name, role } => match role
            .parse::<Role>()
            .and_then(|role| auth.create_token(&name, role))
        {
            Ok((secret, view)) => {
                eprintln!(
                    "token {} ({}, role {}) — shown once, keep it safe:",
                    view.id,
                    view.name,
                    view.role.as_str()
                );
                println!("{secret}");
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
        TokenCommand::List => match auth.tokens() {
            Ok(tokens) => {
                for t in tokens {
                    println!(
                        "{}\t{}\t{}\tcreated {}\tlast used {}",
                        t.id,
                        t.name,
                        t.role.as_str(),
                        t.created_at,
                        t.last_used
                            .map_or_else(|| "never".to_owned(), |at| at.to_string())
                    );
                }
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
        TokenCommand::Revoke { id } => match auth.revoke_token(&id) {
            Ok(()) => {
                println!("token {id} revoked");
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
    };
    drop(auth);
    close(store);
    code
}

/// `waitless audit verify`
pub fn audit_verify(config: &Config) -> ExitCode {
    match waitless::store::audit_verify(&config.database_path()) {
        Ok(report) => {
            println!("{report}");
            if report.is_ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => fail(e),
    }
}
