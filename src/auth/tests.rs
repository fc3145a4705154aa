//! Tests of the [`Auth`] service against a real store in a temporary folder, with a manual
//! clock and the cheapest hashes.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Arc;

use jiff::SignedDuration;

use super::*;
use crate::clock::ManualClock;
use crate::domain::{Command, DomainError, Origin, Source, StaffOp};
use crate::store::StoreOptions;

const PASSWORD: &str = "correct horse battery";

struct Fixture {
    _dir: tempfile::TempDir,
    store: Arc<Store>,
    clock: ManualClock,
    auth: Auth,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        Store::open(
            &dir.path().join("waitless.redb"),
            &StoreOptions {
                fsync: false,
                cache_bytes: 1 << 20,
            },
        )
        .unwrap(),
    );
    let clock = ManualClock::new(Timestamp::from_second(1_800_000_000).unwrap());
    let auth = Auth::with_options(
        store.clone(),
        Arc::new(clock.clone()),
        AuthOptions::for_tests(),
    );
    Fixture {
        _dir: dir,
        store,
        clock,
        auth,
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn room(r: &str) -> RoomId {
    RoomId::parse(r).unwrap()
}

fn hours(h: i64) -> SignedDuration {
    SignedDuration::from_hours(h)
}

/// Why a staff change through the engine was refused.
#[derive(Debug)]
enum Refused {
    Auth(AuthError),
    Domain(DomainError),
}

impl From<AuthError> for Refused {
    fn from(e: AuthError) -> Self {
        Self::Auth(e)
    }
}

impl Fixture {
    /// Commits a staff change as the command line on a stopped server does.
    fn run(&self, op: StaffOp) -> Result<(), Refused> {
        let config = crate::config::Config::default();
        let calendar = config.calendar().unwrap();
        crate::engine::execute_offline(
            &self.store,
            &self.clock,
            &calendar,
            &config.policy(),
            &Command::Staff { op },
            &Origin::new(Source::Cli, "cli:test"),
        )
        .map(|_| ())
        .map_err(|e| match e {
            crate::engine::EngineError::Domain(d) => Refused::Domain(d),
            other => panic!("{other}"),
        })
    }

    fn view(&self, name: &str) -> UserView {
        self.auth.user(name).unwrap().unwrap()
    }

    fn add_user(
        &self,
        name: &str,
        password: &str,
        roles: BTreeSet<Role>,
        rooms: Vec<RoomId>,
    ) -> Result<UserView, Refused> {
        let user = self.auth.prepare_user(name, password, roles, rooms)?;
        self.run(StaffOp::AddUser { user })?;
        Ok(self.view(name))
    }

    fn set_password(&self, name: &str, password: &str) -> Result<UserView, Refused> {
        let password_hash = self.auth.hash_password(password)?;
        let user = name.to_owned();
        self.run(StaffOp::SetPassword {
            user,
            password_hash,
        })?;
        Ok(self.view(name))
    }

    fn set_disabled(&self, name: &str, disabled: bool) -> Result<UserView, Refused> {
        let user = name.to_owned();
        self.run(StaffOp::SetDisabled {
            user,
            disabled,
            keep_an_admin: false,
        })?;
        Ok(self.view(name))
    }

    fn set_roles(&self, name: &str, roles: BTreeSet<Role>) -> Result<UserView, Refused> {
        let user = name.to_owned();
        self.run(StaffOp::SetRoles {
            user,
            roles,
            keep_an_admin: false,
        })?;
        Ok(self.view(name))
    }

    fn set_rooms(&self, name: &str, rooms: Vec<RoomId>) -> Result<UserView, Refused> {
        let user = name.to_owned();
        self.run(StaffOp::SetRooms { user, rooms })?;
        Ok(self.view(name))
    }

    fn create_token(&self, name: &str, role: Role) -> Result<(String, TokenView), Refused> {
        let (secret, token) = self.auth.prepare_token(name, role)?;
        let view = token.view();
        self.run(StaffOp::CreateToken { token })?;
        Ok((secret, view))
    }

    fn revoke_token(&self, id: &str) -> Result<(), Refused> {
        self.run(StaffOp::RevokeToken { id: id.to_owned() })
    }
}

impl Fixture {
    fn with_user(self, name: &str, roles: &[Role]) -> Self {
        self.add_user(
            name,
            PASSWORD,
            roles.iter().copied().collect(),
            vec![room("room-1")],
        )
        .unwrap();
        self
    }

    fn login(&self, name: &str) -> SessionToken {
        self.auth.login(name, PASSWORD, ip("10.0.0.1")).unwrap().0
    }
}

#[test]
fn login_with_the_right_password_opens_a_session() {
    let f = fixture().with_user("anita", &[Role::Doctor]);
    let (token, principal) = f.auth.login("anita", PASSWORD, ip("10.0.0.1")).unwrap();
    assert_eq!(principal.actor(), "user:anita");
    assert_eq!(principal.rooms, [room("room-1")]);
    assert_eq!(principal.csrf.as_deref(), Some(token.csrf()));
    let again = f.auth.session(token.as_str()).unwrap();
    assert_eq!(again, principal);
    // 32 random bytes, base64url; only the hash is stored.
    assert_eq!(token.as_str().len(), 43);
    assert!(f.store.session_get(token.as_str()).unwrap().is_none());
    assert!(!format!("{token:?}").contains(token.as_str()));
}

#[test]
fn wrong_password_and_unknown_user_give_the_same_error() {
    let f = fixture().with_user("anita", &[Role::Reception]);
    let wrong = f.auth.login("anita", "not the password", ip("10.0.0.1"));
    let unknown = f.auth.login("nobody", PASSWORD, ip("10.0.0.2"));
    let invalid = f.auth.login("Not A Name!", PASSWORD, ip("10.0.0.3"));
    for result in [wrong, unknown, invalid] {
        let err = result.unwrap_err();
        assert!(matches!(err, AuthError::InvalidCredentials), "{err:?}");
        assert_eq!(err.code(), "invalid-credentials");
    }
}

#[test]
fn login_name_is_trimmed_and_lowercased() {
    let f = fixture().with_user("anita", &[Role::Reception]);
    assert!(f.auth.login(" Anita ", PASSWORD, ip("10.0.0.1")).is_ok());
}

#[test]
fn add_user_refuses_duplicates_weak_passwords_and_bad_names() {
    let f = fixture().with_user("anita", &[Role::Reception]);
    let add = |name: &str, password: &str| {
        f.add_user(name, password, BTreeSet::from([Role::Doctor]), Vec::new())
    };
    assert!(matches!(
        add("anita", PASSWORD),
        Err(Refused::Domain(DomainError::UserExists(_)))
    ));
    assert!(matches!(
        add("bob", "short"),
        Err(Refused::Auth(AuthError::WeakPassword { min: 10 }))
    ));
    assert!(matches!(
        add("Bob Smith", PASSWORD),
        Err(Refused::Auth(AuthError::InvalidName(_)))
    ));
    let bob = add("bob", PASSWORD).unwrap();
    assert_eq!(bob.name, "bob");
    let names: Vec<_> = f
        .auth
        .users()
        .unwrap()
        .into_iter()
        .map(|u| u.name)
        .collect();
    assert_eq!(names, ["anita", "bob"]);
}

#[test]
fn stored_password_is_an_argon2id_hash() {
    let f = fixture().with_user("anita", &[Role::Reception]);
    let user = f.store.user_get("anita").unwrap().unwrap();
    assert!(user.password_hash.starts_with("$argon2id$"));
    assert!(!user.password_hash.contains(PASSWORD));
}

#[test]
fn has_admin_counts_only_enabled_admins() {
    let f = fixture().with_user("desk", &[Role::Reception]);
    assert!(!f.auth.has_admin().unwrap());
    f.add_user("root", PASSWORD, BTreeSet::from([Role::Admin]), Vec::new())
        .unwrap();
    assert!(f.auth.has_admin().unwrap());
    f.set_disabled("root", true).unwrap();
    assert!(!f.auth.has_admin().unwrap());
}

#[test]
fn session_expires_after_twelve_idle_hours() {
    let f = fixture().with_user("anita", &[Role::Reception]);
    let token = f.login("anita");
    f.clock.advance(hours(11));
    assert!(f.auth.session(token.as_str()).is_some()); // refreshes last_seen
    f.clock.advance(hours(11));
    assert!(f.auth.session(token.as_str()).is_some());
    f.clock.advance(hours(12) + SignedDuration::from_secs(1));
    assert!(f.auth.session(token.as_str()).is_none());
    // And it stays gone.
    f.clock.advance(SignedDuration::from_secs(-3600));
    assert!(f.auth.session(token.as_str()).is_none());
}

#[test]
fn session_expires_seven_days_after_login_however_busy() {
    let f = fixture().with_user("anita", &[Role::Reception]);
    let token = f.login("anita");
    for _ in 0..(7 * 24 / 6) {
        f.clock.advance(hours(6));
        assert!(f.auth.session(token.as_str()).is_some());
    }
    f.clock.advance(SignedDuration::from_secs(1));
    assert!(f.auth.session(token.as_str()).is_none());
}

#[test]
fn last_seen_is_written_at_most_once_a_minute() {
    let f = fixture().with_user("anita", &[Role::Reception]);
    let token = f.login("anita");
    let key = session::secret_hash(token.as_str());
    let start = f.store.session_get(&key).unwrap().unwrap().last_seen;
    f.clock.advance(SignedDuration::from_secs(59));
    assert!(f.auth.session(token.as_str()).is_some());
    assert_eq!(f.store.session_get(&key).unwrap().unwrap().last_seen, start);
    f.clock.advance(SignedDuration::from_secs(1));
    assert!(f.auth.session(token.as_str()).is_some());
    assert_eq!(
        f.store.session_get(&key).unwrap().unwrap().last_seen,
        f.clock.now()
    );
}

#[test]
fn a_new_login_gives_a_new_session_and_keeps_the_old_one() {
    let f = fixture().with_user("anita", &[Role::Reception]);
    let first = f.login("anita");
    let second = f.login("anita");
    assert_ne!(first.as_str(), second.as_str());
    assert_ne!(first.csrf(), second.csrf());
    assert!(f.auth.session(first.as_str()).is_some());
    assert!(f.auth.session(second.as_str()).is_some());
}

#[test]
fn logout_revokes_only_that_session() {
    let f = fixture().with_user("anita", &[Role::Reception]);
    let first = f.login("anita");
    let second = f.login("anita");
    f.auth.logout(first.as_str()).unwrap();
    assert!(f.auth.session(first.as_str()).is_none());
    assert!(f.auth.session(second.as_str()).is_some());
    f.auth.logout(first.as_str()).unwrap(); // twice is fine
    assert!(f.auth.session("made-up").is_none());
}

#[test]
fn password_change_revokes_sessions_and_the_old_password() {
    let f = fixture()
        .with_user("anita", &[Role::Reception])
        .with_user("bob", &[Role::Reception]);
    let anita = f.login("anita");
    let bob = f.login("bob");
    f.clock.advance(SignedDuration::from_secs(5));
    assert!(matches!(
        f.set_password("anita", "short"),
        Err(Refused::Auth(AuthError::WeakPassword { .. }))
    ));
    f.set_password("anita", "a new long password").unwrap();
    assert!(f.auth.session(anita.as_str()).is_none());
    assert!(f.auth.session(bob.as_str()).is_some());
    assert!(matches!(
        f.auth.login("anita", PASSWORD, ip("10.0.0.1")),
        Err(AuthError::InvalidCredentials)
    ));
    assert!(
        f.auth
            .login("anita", "a new long password", ip("10.0.0.1"))
            .is_ok()
    );
    assert!(matches!(
        f.set_password("nobody", "a new long password"),
        Err(Refused::Domain(DomainError::UserNotFound(_)))
    ));
}

#[test]
fn session_older_than_the_password_is_refused_even_if_left_in_the_table() {
    let f = fixture().with_user("anita", &[Role::Reception]);
    let token = f.login("anita");
    f.clock.advance(SignedDuration::from_secs(5));
    // A password change ends the sessions; put the old one back, as a restored copy of the
    // session table would: it must still be refused.
    let key = session::secret_hash(token.as_str());
    let old = f.store.session_get(&key).unwrap().unwrap();
    let hash = f.store.user_get("anita").unwrap().unwrap().password_hash;
    f.run(StaffOp::SetPassword {
        user: "anita".to_owned(),
        password_hash: hash,
    })
    .unwrap();
    assert!(f.store.session_get(&key).unwrap().is_none());
    f.store.session_put(&key, &old).unwrap();
    assert!(f.auth.session(token.as_str()).is_none());
}

#[test]
fn disabling_revokes_sessions_and_refuses_login() {
    let f = fixture().with_user("anita", &[Role::Reception]);
    let token = f.login("anita");
    let view = f.set_disabled("anita", true).unwrap();
    assert!(view.disabled);
    assert!(f.auth.session(token.as_str()).is_none());
    let err = f.auth.login("anita", PASSWORD, ip("10.0.0.1")).unwrap_err();
    assert!(matches!(err, AuthError::Disabled), "{err:?}");
    // A wrong password does not learn that the user is disabled.
    assert!(matches!(
        f.auth.login("anita", "not the password", ip("10.0.0.1")),
        Err(AuthError::InvalidCredentials)
    ));
    f.set_disabled("anita", false).unwrap();
    assert!(f.auth.login("anita", PASSWORD, ip("10.0.0.1")).is_ok());
}

#[test]
fn role_and_room_changes_apply_to_live_sessions() {
    let f = fixture().with_user("anita", &[Role::Doctor]);
    let token = f.login("anita");
    assert!(!f.auth.session(token.as_str()).unwrap().can(Need::Reception));
    f.set_roles("anita", BTreeSet::from([Role::Reception]))
        .unwrap();
    assert!(f.auth.session(token.as_str()).unwrap().can(Need::Reception));
    let view = f
        .set_rooms(
            "anita",
            vec![room("room-2"), room("room-2"), room("room-1")],
        )
        .unwrap();
    assert_eq!(view.rooms, [room("room-1"), room("room-2")]);
    assert!(matches!(
        f.set_roles("nobody", BTreeSet::new()),
        Err(Refused::Domain(DomainError::UserNotFound(_)))
    ));
}

#[test]
fn tokens_are_shown_once_stored_hashed_and_revocable() {
    let f = fixture();
    let (secret, view) = f.create_token("his-bridge", Role::Reception).unwrap();
    assert!(secret.starts_with("wl_"));
    assert_eq!(view.last_used, None);
    let stored = f.store.token_get(&view.id).unwrap().unwrap();
    assert_ne!(stored.secret_hash, secret);
    assert!(!stored.secret_hash.contains(&secret[3..]));

    let principal = f.auth.verify_token(&secret).unwrap();
    assert_eq!(principal.actor(), "token:his-bridge");
    assert!(principal.can(Need::Reception));
    assert!(!principal.can(Need::Admin));
    assert_eq!(principal.csrf, None);
    assert_eq!(
        f.auth.tokens().unwrap(),
        [TokenView {
            last_used: Some(f.clock.now()),
            ..view.clone()
        }]
    );

    assert!(f.auth.verify_token("wl_not-a-token").is_none());
    assert!(f.auth.verify_token(&secret[3..]).is_none());
    assert!(matches!(
        f.create_token("Bad Name", Role::Admin),
        Err(Refused::Auth(AuthError::InvalidName(_)))
    ));

    f.revoke_token(&view.id).unwrap();
    assert!(f.auth.verify_token(&secret).is_none());
    assert!(f.auth.tokens().unwrap().is_empty());
    assert!(matches!(
        f.revoke_token(&view.id),
        Err(Refused::Domain(DomainError::TokenNotFound(_)))
    ));
}

#[test]
fn throttled_login_is_refused_even_with_the_right_password() {
    let f = fixture().with_user("anita", &[Role::Reception]);
    let client = ip("10.0.0.9");
    for _ in 0..4 {
        assert!(matches!(
            f.auth.login("anita", "wrong password", client),
            Err(AuthError::InvalidCredentials)
        ));
    }
    // The fifth failure locks for 1 s.
    assert!(f.auth.login("anita", "wrong password", client).is_err());
    let err = f.auth.login("anita", PASSWORD, client).unwrap_err();
    assert!(
        matches!(
            err,
            AuthError::Throttled {
                retry_after_secs: 1
            }
        ),
        "{err:?}"
    );
    // Only from that address: the right password from an address with no failures works
    // (failures elsewhere must not lock the account's owner out).
    assert!(f.auth.login("anita", PASSWORD, ip("10.0.0.10")).is_ok());
    f.clock.advance(SignedDuration::from_secs(1));
    assert!(f.auth.login("anita", PASSWORD, client).is_ok());
    // Success reset the count: four more failures lock nothing.
    for _ in 0..4 {
        assert!(matches!(
            f.auth.login("anita", "wrong password", client),
            Err(AuthError::InvalidCredentials)
        ));
    }
}

#[test]
fn one_address_guessing_many_accounts_is_throttled() {
    let f = fixture().with_user("anita", &[Role::Reception]);
    let client = ip("10.0.0.9");
    for n in 0..5 {
        let _ = f.auth.login(&format!("guess-{n}"), PASSWORD, client);
    }
    assert!(matches!(
        f.auth.login("anita", PASSWORD, client),
        Err(AuthError::Throttled { .. })
    ));
    assert!(f.auth.login("anita", PASSWORD, ip("10.0.0.1")).is_ok());
}

#[test]
fn guesses_at_an_account_stay_throttled_when_the_guesser_logs_in_as_itself() {
    let f = fixture()
        .with_user("anita", &[Role::Admin])
        .with_user("mallory", &[Role::Reception]);
    let client = ip("10.0.0.9");
    for _ in 0..4 {
        let _ = f.auth.login("anita", "wrong password", client);
        // A success of its own resets the address's count, not anita's from this address.
        assert!(f.auth.login("mallory", PASSWORD, client).is_ok());
    }
    assert!(f.auth.login("anita", "wrong password", client).is_err());
    assert!(matches!(
        f.auth.login("anita", PASSWORD, client),
        Err(AuthError::Throttled { .. })
    ));
    assert!(f.auth.login("anita", PASSWORD, ip("10.0.0.10")).is_ok());
}

#[test]
fn error_codes_are_kebab_case() {
    let errors = [
        AuthError::InvalidCredentials,
        AuthError::Throttled {
            retry_after_secs: 1,
        },
        AuthError::WeakPassword { min: 10 },
        AuthError::PasswordTooLong { max: 1024 },
        AuthError::InvalidName("A".into()),
        AuthError::UnknownRole("x".into()),
        AuthError::Disabled,
        AuthError::Hash("x".into()),
        AuthError::Random("x".into()),
    ];
    for e in errors {
        let code = e.code();
        assert!(
            code.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
            "{code}"
        );
    }
}
