//! The operator's commands on the data folder: `waitless user`, `waitless token`,
//! `waitless audit verify`. Each opens the database itself when the server is stopped; while
//! the server runs (it holds the database), it asks the server over the admin socket
//! (`crate::control`). Both ways carry the request out with `crate::staff` and record
//! each change in the audit trail, and this module prints the answer the same way.

use std::collections::BTreeSet;
use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use crate::auth::{Auth, Role, UserView};
use crate::cli::{TokenCommand, UserCommand};
use crate::clock::SystemClock;
use crate::config::Config;
use crate::control::{self, ClientError, ControlReply};
use crate::domain::RoomId;
use crate::staff::{self, Secret, StaffAnswer, StaffRequest};
use crate::store::{Store, StoreError, StoreOptions};

/// Where a request is carried out.
enum Target {
    /// This process opened the database (the server is stopped).
    Offline(Arc<Store>),
    /// The server holds the database: ask it over its admin socket.
    Online { database: PathBuf, socket: PathBuf },
}

/// Opens the database for a command, or finds the server that holds it, or says why not.
fn open(config: &Config) -> Result<Target, ExitCode> {
    let path = config.database_path();
    match Store::open(
        &path,
        &StoreOptions {
            fsync: true,
            cache_bytes: 1 << 20,
        },
    ) {
        Ok(store) => Ok(Target::Offline(Arc::new(store))),
        Err(StoreError::InUse(_)) => Ok(Target::Online {
            database: path,
            socket: control::socket_path(&config.data),
        }),
        Err(e) => {
            eprintln!("waitless: cannot open {}: {e}", path.display());
            Err(ExitCode::FAILURE)
        }
    }
}

impl Target {
    /// Carries out `request` and records its change, here or in the server.
    fn perform(&self, config: &Config, request: StaffRequest) -> Result<StaffAnswer, String> {
        match self {
            Target::Offline(store) => {
                let clock = SystemClock;
                let calendar = config.calendar().map_err(|e| e.to_string())?;
                let policy = config.policy();
                let auth = Auth::new(Arc::clone(store), Arc::new(SystemClock));
                let origin = staff::cli_origin(control::effective_uid());
                let offline = staff::Offline {
                    store,
                    clock: &clock,
                    calendar: &calendar,
                    policy: &policy,
                };
                staff::perform_offline(&auth, offline, request, &origin).map_err(|e| e.to_string())
            }
            Target::Online { database, socket } => ask(database, socket, &request),
        }
    }

    fn close(self) {
        if let Target::Offline(store) = self
            && let Ok(store) = Arc::try_unwrap(store)
            && let Err(e) = store.close()
        {
            eprintln!("waitless: closing the database: {e}");
        }
    }
}

/// Asks the running server.
pub(crate) fn ask(
    database: &std::path::Path,
    socket: &std::path::Path,
    request: &StaffRequest,
) -> Result<StaffAnswer, String> {
    match control::ask(socket, request) {
        Ok(ControlReply::Ok { answer }) => Ok(answer),
        Ok(ControlReply::Error { message, .. }) => Err(message),
        Err(ClientError::NotRunning(_)) => Err(format!(
            "{} is in use by another process, and no running waitless answers on {}: is another \
             waitless command running? Try again when it has finished",
            database.display(),
            socket.display()
        )),
        Err(e) => Err(e.to_string()),
    }
}

/// A password from the terminal (asked twice, not echoed) or one line of stdin.
fn read_password(name: &str) -> Result<Secret, String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(format!("password for {name}: "))
            .map_err(|e| e.to_string())?;
        let second = rpassword::prompt_password("the same again: ").map_err(|e| e.to_string())?;
        if first != second {
            return Err("the two passwords differ".to_owned());
        }
        Ok(Secret(first))
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        Ok(Secret(line.trim_end_matches(['\r', '\n']).to_owned()))
    }
}

pub(crate) fn fail(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("waitless: {e}");
    ExitCode::FAILURE
}

fn role_list(user: &UserView) -> Vec<&'static str> {
    user.roles.iter().map(|r| r.as_str()).collect()
}

/// Opens the target, builds the request (which may ask for a password), carries it out and
/// prints the answer with `print`.
fn run(
    config: &Config,
    request: impl FnOnce() -> Result<StaffRequest, String>,
    print: impl FnOnce(StaffAnswer) -> ExitCode,
) -> ExitCode {
    let target = match open(config) {
        Ok(target) => target,
        Err(code) => return code,
    };
    let code = match request().and_then(|request| target.perform(config, request)) {
        Ok(answer) => print(answer),
        Err(e) => fail(e),
    };
    target.close();
    code
}

fn unexpected(answer: &StaffAnswer) -> ExitCode {
    fail(format!("unexpected answer: {answer:?}"))
}

/// `waitless user ...`
pub fn user(config: &Config, action: UserCommand) -> ExitCode {
    match action {
        UserCommand::Add { name, roles, rooms } => {
            // Check what can be checked before asking for a password.
            let roles: Result<BTreeSet<Role>, _> = roles.iter().map(|r| r.parse()).collect();
            let rooms: Result<Vec<RoomId>, _> = rooms.iter().map(|r| RoomId::parse(r)).collect();
            let (roles, rooms) = match (roles, rooms) {
                (Ok(roles), Ok(rooms)) => (roles, rooms),
                (Err(e), _) => return fail(e),
                (_, Err(e)) => return fail(e),
            };
            run(
                config,
                || {
                    let password = read_password(&name)
                        .map_err(|e| format!("cannot read the password: {e}"))?;
                    Ok(StaffRequest::UserAdd {
                        name: name.clone(),
                        password,
                        roles,
                        rooms,
                    })
                },
                |answer| match answer {
                    StaffAnswer::User { user } => {
                        println!("added {} ({})", user.name, role_list(&user).join(", "));
                        ExitCode::SUCCESS
                    }
                    other => unexpected(&other),
                },
            )
        }
        UserCommand::List => run(
            config,
            || Ok(StaffRequest::UserList),
            |answer| match answer {
                StaffAnswer::Users { users } => {
                    for u in users {
                        let rooms: Vec<&str> = u.rooms.iter().map(RoomId::as_str).collect();
                        println!(
                            "{}\t{}\t{}{}",
                            u.name,
                            role_list(&u).join(","),
                            rooms.join(","),
                            if u.disabled { "\tdisabled" } else { "" }
                        );
                    }
                    ExitCode::SUCCESS
                }
                other => unexpected(&other),
            },
        ),
        UserCommand::Passwd { name } => run(
            config,
            || {
                let password =
                    read_password(&name).map_err(|e| format!("cannot read the password: {e}"))?;
                Ok(StaffRequest::UserPasswd {
                    name: name.clone(),
                    password,
                })
            },
            |answer| match answer {
                StaffAnswer::User { user } => {
                    println!(
                        "password of {} changed; their sessions are ended",
                        user.name
                    );
                    ExitCode::SUCCESS
                }
                other => unexpected(&other),
            },
        ),
        UserCommand::Disable { name } => set_disabled(config, name, true),
        UserCommand::Enable { name } => set_disabled(config, name, false),
    }
}

/// `waitless user disable|enable NAME`
fn set_disabled(config: &Config, name: String, disabled: bool) -> ExitCode {
    run(
        config,
        || Ok(StaffRequest::UserSetDisabled { name, disabled }),
        |answer| match answer {
            StaffAnswer::User { user } if disabled => {
                println!("{} disabled; their sessions are ended", user.name);
                ExitCode::SUCCESS
            }
            StaffAnswer::User { user } => {
                println!("{} enabled", user.name);
                ExitCode::SUCCESS
            }
            other => unexpected(&other),
        },
    )
}

/// `waitless token ...`
pub fn token(config: &Config, action: TokenCommand) -> ExitCode {
    match action {
        TokenCommand::Create { name, role } => {
            let role = match role.parse::<Role>() {
                Ok(role) => role,
                Err(e) => return fail(e),
            };
            run(
                config,
                || Ok(StaffRequest::TokenCreate { name, role }),
                |answer| match answer {
                    StaffAnswer::TokenCreated { secret, token } => {
                        eprintln!(
                            "token {} ({}, role {}) — shown once, keep it safe:",
                            token.id,
                            token.name,
                            token.role.as_str()
                        );
                        println!("{}", secret.0);
                        ExitCode::SUCCESS
                    }
                    other => unexpected(&other),
                },
            )
        }
        TokenCommand::List => run(
            config,
            || Ok(StaffRequest::TokenList),
            |answer| match answer {
                StaffAnswer::Tokens { tokens } => {
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
                other => unexpected(&other),
            },
        ),
        TokenCommand::Revoke { id } => run(
            config,
            || Ok(StaffRequest::TokenRevoke { id }),
            |answer| match answer {
                StaffAnswer::TokenRevoked { token } => {
                    println!("token {} revoked", token.id);
                    ExitCode::SUCCESS
                }
                other => unexpected(&other),
            },
        ),
    }
}

/// `waitless audit verify`: reads the database read-only, or asks the running server.
pub fn audit_verify(config: &Config) -> ExitCode {
    let database = config.database_path();
    let answer = match crate::store::audit_verify(&database) {
        Ok(report) => Ok(StaffAnswer::Audit {
            intact: report.is_ok(),
            report: report.to_string(),
        }),
        Err(StoreError::InUse(_)) => ask(
            &database,
            &control::socket_path(&config.data),
            &StaffRequest::AuditVerify,
        ),
        Err(e) => Err(e.to_string()),
    };
    match answer {
        Ok(StaffAnswer::Audit { intact, report }) => {
            println!("{report}");
            if intact {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Ok(other) => unexpected(&other),
        Err(e) => fail(e),
    }
}
