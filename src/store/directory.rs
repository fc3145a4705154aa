//! Staff users, API tokens and paired screens (tables [`USERS`], [`API_TOKENS`], [`SCREENS`]),
//! sessions ([`SESSIONS`]) and patients' details ([`PATIENTS`]).
//!
//! Every audited change to these rows is written by [`Store::commit`], in the transaction of
//! the event that records it ([`write_staff_rows`], [`write_patients`]): this module offers
//! reads, [`Store::load_directory`], and only the unaudited writes: sessions (hot: a login, a
//! logout, the last request's time) and the `last_used`/`last_seen` of tokens and screens.
//! These tables need no migration: redb creates them on first write, and a read of a table
//! that does not exist yet answers "empty".

use redb::{ReadableTable, TableDefinition};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::tables::{API_TOKENS, PATIENTS, SCREENS, SESSIONS, USERS};
use super::{Store, StoreError, codec};
use crate::domain::{
    Directory, PatientDetails, ScreenRecord, SessionRecord, StaffRows, TicketId, Timestamp,
    TokenRecord, Touched, User,
};

type StrTable = TableDefinition<'static, &'static str, &'static [u8]>;

/// Writes a decided staff change's rows in the commit's transaction `txn`.
pub(super) fn write_staff_rows(
    txn: &redb::WriteTransaction,
    rows: &StaffRows,
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    {
        let mut users = txn.open_table(USERS)?;
        for user in &rows.users {
            users.insert(user.name.as_str(), codec::encode(user, "user")?.as_slice())?;
        }
    }
    if !rows.sessions_ended.is_empty() {
        let mut sessions = txn.open_table(SESSIONS)?;
        sessions.retain(|_, bytes| {
            // An unreadable row is dropped too: it can never be a valid session.
            codec::decode::<SessionRecord>(bytes, "session")
                .is_ok_and(|s| !rows.sessions_ended.contains(&s.user))
        })?;
    }
    // `last_used` and `last_seen` are written directly by requests: keep the later of the two.
    put_keeping_later(
        txn,
        API_TOKENS,
        "api token",
        &rows.tokens,
        |t: &TokenRecord| (t.id.as_str(), t.last_used),
        |t, at| t.last_used = at,
    )?;
    put_keeping_later(
        txn,
        SCREENS,
        "screen",
        &rows.screens,
        |s: &ScreenRecord| (s.id.as_str(), s.last_seen),
        |s, at| s.last_seen = at,
    )?;
    let mut tokens = txn.open_table(API_TOKENS)?;
    for id in &rows.tokens_revoked {
        tokens.remove(id.as_str())?;
    }
    let mut screens = txn.open_table(SCREENS)?;
    for id in &rows.screens_unpaired {
        screens.remove(id.as_str())?;
    }
    Ok(())
}

/// Writes `rows` into `table` under their keys, each keeping the later of its own time and the
/// stored row's (the `last_used` of a token, the `last_seen` of a screen).
fn put_keeping_later<T: Clone + Serialize + DeserializeOwned>(
    txn: &redb::WriteTransaction,
    table: StrTable,
    what: &str,
    rows: &[T],
    key_and_time: impl Fn(&T) -> (&str, Option<Timestamp>),
    set_time: impl Fn(&mut T, Option<Timestamp>),
) -> Result<(), StoreError> {
    let mut table = txn.open_table(table)?;
    for row in rows {
        let (key, time) = key_and_time(row);
        let stored = match table.get(key)? {
            Some(v) => key_and_time(&codec::decode::<T>(v.value(), what)?).1,
            None => None,
        };
        let mut row = row.clone();
        set_time(&mut row, time.max(stored));
        table.insert(key, codec::encode(&row, what)?.as_slice())?;
    }
    Ok(())
}

/// Writes (and deletes) patients' details in the commit's transaction `txn`.
pub(super) fn write_patients(
    txn: &redb::WriteTransaction,
    touched: &Touched,
) -> Result<(), StoreError> {
    if touched.patients.is_empty() && touched.patients_purged.is_empty() {
        return Ok(());
    }
    let mut table = txn.open_table(PATIENTS)?;
    for (ticket, details) in &touched.patients {
        table.insert(ticket.0, codec::encode(details, "patient")?.as_slice())?;
    }
    for ticket in &touched.patients_purged {
        table.remove(ticket.0)?;
    }
    Ok(())
}

impl Store {
    /// A user by name.
    pub fn user_get(&self, name: &str) -> Result<Option<User>, StoreError> {
        self.get_row(USERS, name, "user")
    }

    /// All users, by name.
    pub fn users(&self) -> Result<Vec<User>, StoreError> {
        self.all_rows(USERS, "user")
    }

    /// Writes a session under the hash of its id (insert or replace).
    pub fn session_put(&self, id_hash: &str, session: &SessionRecord) -> Result<(), StoreError> {
        self.put_row(SESSIONS, id_hash, session, "session")
    }

    /// A session by the hash of its id.
    pub fn session_get(&self, id_hash: &str) -> Result<Option<SessionRecord>, StoreError> {
        self.get_row(SESSIONS, id_hash, "session")
    }

    /// Sets a session's `last_seen` if it still exists (a concurrent logout is not undone);
    /// `false` if it is gone.
    pub fn session_touch(&self, id_hash: &str, at: Timestamp) -> Result<bool, StoreError> {
        self.update_row(SESSIONS, id_hash, "session", |s: &mut SessionRecord| {
            s.last_seen = at;
        })
    }

    /// Deletes a session; `false` if there was none.
    pub fn session_delete(&self, id_hash: &str) -> Result<bool, StoreError> {
        self.delete_row(SESSIONS, id_hash)
    }

    /// All API tokens, by id.
    pub fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        self.all_rows(API_TOKENS, "api token")
    }

    /// An API token by id.
    pub fn token_get(&self, id: &str) -> Result<Option<TokenRecord>, StoreError> {
        self.get_row(API_TOKENS, id, "api token")
    }

    /// Sets a token's `last_used` if it still exists (a concurrent revoke is not undone);
    /// `false` if it is gone.
    pub fn token_touch(&self, id: &str, at: Timestamp) -> Result<bool, StoreError> {
        self.update_row(API_TOKENS, id, "api token", |t: &mut TokenRecord| {
            t.last_used = Some(at);
        })
    }

    /// All paired screens, by id.
    pub fn screens(&self) -> Result<Vec<ScreenRecord>, StoreError> {
        self.all_rows(SCREENS, "screen")
    }

    /// A paired screen by id.
    pub fn screen_get(&self, id: &str) -> Result<Option<ScreenRecord>, StoreError> {
        self.get_row(SCREENS, id, "screen")
    }

    /// Sets a screen's `last_seen` if it is still paired; `false` if it is gone.
    pub fn screen_touch(&self, id: &str, at: Timestamp) -> Result<bool, StoreError> {
        self.update_row(SCREENS, id, "screen", |s: &mut ScreenRecord| {
            s.last_seen = Some(at);
        })
    }

    /// The directory as the engine holds it (users, tokens, screens).
    pub fn load_directory(&self) -> Result<Directory, StoreError> {
        let mut directory = Directory::default();
        for user in self.users()? {
            directory.users.insert(user.name.clone(), user);
        }
        for token in self.tokens()? {
            directory.tokens.insert(token.id.clone(), token);
        }
        for screen in self.screens()? {
            directory.screens.insert(screen.id.clone(), screen);
        }
        Ok(directory)
    }

    /// Deletes every session of a user (a logout everywhere; not audited); how many there were.
    pub fn sessions_delete_for_user(&self, user: &str) -> Result<usize, StoreError> {
        let txn = self.begin_auth_write()?;
        let mut deleted = 0;
        txn.open_table(SESSIONS)?.retain(|_, bytes| {
            let keep =
                codec::decode::<SessionRecord>(bytes, "session").is_ok_and(|s| s.user != user);
            if !keep {
                deleted += 1;
            }
            keep
        })?;
        txn.commit()?;
        Ok(deleted)
    }

    /// A ticket's patient details, if recorded and not purged.
    pub fn patient_get(&self, ticket: TicketId) -> Result<Option<PatientDetails>, StoreError> {
        let txn = self.read_txn()?;
        let table = match txn.open_table(PATIENTS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        match table.get(ticket.0)? {
            Some(v) => Ok(Some(codec::decode(v.value(), "patient")?)),
            None => Ok(None),
        }
    }

    /// The tickets whose patients' details were recorded before `older_than` (and those whose
    /// row cannot be read: personal data of unknown age goes too).
    pub fn patients_older_than(&self, older_than: Timestamp) -> Result<Vec<TicketId>, StoreError> {
        let txn = self.read_txn()?;
        let table = match txn.open_table(PATIENTS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let mut out = Vec::new();
        for row in table.iter()? {
            let (k, v) = row?;
            let old = codec::decode::<PatientDetails>(v.value(), "patient")
                .map_or(true, |d| d.recorded_at < older_than);
            if old {
                out.push(TicketId(k.value()));
            }
        }
        Ok(out)
    }

    fn begin_auth_write(&self) -> Result<super::Writing<'_>, StoreError> {
        let mut txn = self.write_txn()?;
        txn.set_durability(self.durability)?;
        Ok(txn)
    }

    fn put_row<T: Serialize>(
        &self,
        table: StrTable,
        key: &str,
        value: &T,
        what: &str,
    ) -> Result<(), StoreError> {
        let bytes = codec::encode(value, what)?;
        let txn = self.begin_auth_write()?;
        txn.open_table(table)?.insert(key, bytes.as_slice())?;
        txn.commit()?;
        Ok(())
    }

    fn get_row<T: DeserializeOwned>(
        &self,
        table: StrTable,
        key: &str,
        what: &str,
    ) -> Result<Option<T>, StoreError> {
        let txn = self.read_txn()?;
        let table = match txn.open_table(table) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        match table.get(key)? {
            Some(v) => Ok(Some(codec::decode(v.value(), what)?)),
            None => Ok(None),
        }
    }

    fn all_rows<T: DeserializeOwned>(
        &self,
        table: StrTable,
        what: &str,
    ) -> Result<Vec<T>, StoreError> {
        let txn = self.read_txn()?;
        let table = match txn.open_table(table) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let mut out = Vec::new();
        for row in table.iter()? {
            let (_, v) = row?;
            out.push(codec::decode(v.value(), what)?);
        }
        Ok(out)
    }

    fn update_row<T: Serialize + DeserializeOwned>(
        &self,
        table: StrTable,
        key: &str,
        what: &str,
        change: impl FnOnce(&mut T),
    ) -> Result<bool, StoreError> {
        let txn = self.begin_auth_write()?;
        let found = {
            let mut table = txn.open_table(table)?;
            let current: Option<T> = match table.get(key)? {
                Some(v) => Some(codec::decode(v.value(), what)?),
                None => None,
            };
            match current {
                Some(mut value) => {
                    change(&mut value);
                    table.insert(key, codec::encode(&value, what)?.as_slice())?;
                    true
                }
                None => false,
            }
        };
        if found {
            txn.commit()?;
        } else {
            txn.abort()?;
        }
        Ok(found)
    }

    fn delete_row(&self, table: StrTable, key: &str) -> Result<bool, StoreError> {
        let txn = self.begin_auth_write()?;
        let existed = txn.open_table(table)?.remove(key)?.is_some();
        txn.commit()?;
        Ok(existed)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::domain::Role;
    use crate::store::StoreOptions;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(
            &dir.path().join("waitless.redb"),
            &StoreOptions {
                fsync: false,
                cache_bytes: 1 << 20,
            },
        )
        .unwrap();
        (dir, store)
    }

    fn user(name: &str) -> User {
        let at = Timestamp::from_second(1_800_000_000).unwrap();
        User {
            name: name.to_owned(),
            roles: BTreeSet::from([Role::Reception]),
            rooms: Vec::new(),
            password_hash: "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g".to_owned(),
            disabled: false,
            created_at: at,
            password_changed_at: at,
        }
    }

    fn session(user: &str) -> SessionRecord {
        let at = Timestamp::from_second(1_800_000_000).unwrap();
        SessionRecord {
            user: user.to_owned(),
            created_at: at,
            last_seen: at,
            csrf: "csrf".to_owned(),
            client: "127.0.0.1".to_owned(),
        }
    }

    fn write(store: &Store, rows: &StaffRows) {
        let txn = store.begin_auth_write().unwrap();
        write_staff_rows(&txn, rows).unwrap();
        txn.commit().unwrap();
    }

    #[test]
    fn reads_of_missing_auth_tables_are_empty() {
        let (_dir, store) = store();
        assert!(store.users().unwrap().is_empty());
        assert!(store.user_get("anita").unwrap().is_none());
        assert!(store.session_get("x").unwrap().is_none());
        assert!(store.tokens().unwrap().is_empty());
        assert!(store.token_get("x").unwrap().is_none());
        assert_eq!(store.sessions_delete_for_user("anita").unwrap(), 0);
        assert_eq!(store.load_directory().unwrap(), Directory::default());
        assert!(
            store
                .patients_older_than(Timestamp::MAX)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn staff_rows_replace_users_and_end_only_their_sessions() {
        let (_dir, store) = store();
        store.session_put("a1", &session("anita")).unwrap();
        store.session_put("b1", &session("bob")).unwrap();
        write(
            &store,
            &StaffRows {
                users: vec![user("anita"), user("bob")],
                ..StaffRows::default()
            },
        );
        let mut disabled = user("anita");
        disabled.disabled = true;
        write(
            &store,
            &StaffRows {
                users: vec![disabled],
                sessions_ended: vec!["anita".to_owned()],
                ..StaffRows::default()
            },
        );
        assert!(store.user_get("anita").unwrap().unwrap().disabled);
        let names: Vec<_> = store.users().unwrap().into_iter().map(|u| u.name).collect();
        assert_eq!(names, ["anita", "bob"]);
        assert!(store.session_get("a1").unwrap().is_none());
        assert!(store.session_get("b1").unwrap().is_some());
        assert_eq!(store.load_directory().unwrap().users.len(), 2);
    }

    #[test]
    fn sessions_delete_for_user_keeps_other_users_sessions() {
        let (_dir, store) = store();
        store.session_put("a1", &session("anita")).unwrap();
        store.session_put("a2", &session("anita")).unwrap();
        store.session_put("b1", &session("bob")).unwrap();
        assert_eq!(store.sessions_delete_for_user("anita").unwrap(), 2);
        assert!(store.session_get("a1").unwrap().is_none());
        assert!(store.session_get("b1").unwrap().is_some());
        assert!(store.session_delete("b1").unwrap());
        assert!(!store.session_delete("b1").unwrap());
    }

    #[test]
    fn touch_does_not_bring_back_a_deleted_session_or_token() {
        let (_dir, store) = store();
        let later = Timestamp::from_second(1_800_000_060).unwrap();
        store.session_put("a1", &session("anita")).unwrap();
        assert!(store.session_touch("a1", later).unwrap());
        assert_eq!(store.session_get("a1").unwrap().unwrap().last_seen, later);
        store.session_delete("a1").unwrap();
        assert!(!store.session_touch("a1", later).unwrap());
        assert!(store.session_get("a1").unwrap().is_none());

        let token = TokenRecord {
            id: "t1".to_owned(),
            name: "his-bridge".to_owned(),
            role: Role::Reception,
            secret_hash: "h".to_owned(),
            created_at: later,
            last_used: None,
        };
        write(
            &store,
            &StaffRows {
                tokens: vec![token.clone()],
                ..StaffRows::default()
            },
        );
        assert!(store.token_touch("t1", later).unwrap());
        assert_eq!(
            store.token_get("t1").unwrap().unwrap().last_used,
            Some(later)
        );
        // A rewrite of the token (from the engine's copy) keeps the later `last_used`.
        write(
            &store,
            &StaffRows {
                tokens: vec![token],
                ..StaffRows::default()
            },
        );
        assert_eq!(
            store.token_get("t1").unwrap().unwrap().last_used,
            Some(later)
        );
        write(
            &store,
            &StaffRows {
                tokens_revoked: vec!["t1".to_owned()],
                ..StaffRows::default()
            },
        );
        assert!(!store.token_touch("t1", later).unwrap());
        assert!(store.tokens().unwrap().is_empty());
    }
}
