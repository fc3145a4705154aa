//! Storage of staff users, sessions and API tokens (tables [`USERS`], [`SESSIONS`],
//! [`API_TOKENS`]). Each call is its own transaction, written with the same durability as
//! [`Store::commit`]. These tables need no migration: redb creates them on first write, and a
//! read of a table that does not exist yet answers "empty". The rules (who may log in, when a
//! session expires) live in [`crate::auth`]; this module only reads and writes rows.

use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::tables::{API_TOKENS, SCREENS, SESSIONS, USERS};
use super::{Store, StoreError, codec};
use crate::auth::screen::ScreenRecord;
use crate::auth::{SessionRecord, TokenRecord, User};
use crate::domain::Timestamp;

type StrTable = TableDefinition<'static, &'static str, &'static [u8]>;

impl Store {
    /// Writes a user (insert or replace).
    pub fn user_put(&self, user: &User) -> Result<(), StoreError> {
        self.put_row(USERS, &user.name, user, "user")
    }

    /// Writes a new user; `false` (and nothing written) if one of that name exists.
    pub fn user_insert(&self, user: &User) -> Result<bool, StoreError> {
        let txn = self.begin_auth_write()?;
        let inserted = {
            let mut table = txn.open_table(USERS)?;
            if table.get(user.name.as_str())?.is_some() {
                false
            } else {
                table.insert(user.name.as_str(), codec::encode(user, "user")?.as_slice())?;
                true
            }
        };
        if inserted {
            txn.commit()?;
        } else {
            txn.abort()?;
        }
        Ok(inserted)
    }

    /// Changes a user in one transaction; `None` (and nothing written) if there is no such
    /// user. Returns the user as written.
    pub fn user_update(
        &self,
        name: &str,
        change: impl FnOnce(&mut User),
    ) -> Result<Option<User>, StoreError> {
        let txn = self.begin_auth_write()?;
        let updated = {
            let mut table = txn.open_table(USERS)?;
            let current: Option<User> = match table.get(name)? {
                Some(v) => Some(codec::decode(v.value(), "user")?),
                None => None,
            };
            match current {
                Some(mut user) => {
                    change(&mut user);
                    table.insert(name, codec::encode(&user, "user")?.as_slice())?;
                    Some(user)
                }
                None => None,
            }
        };
        if updated.is_some() {
            txn.commit()?;
        } else {
            txn.abort()?;
        }
        Ok(updated)
    }

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

    /// Deletes every session of a user; returns how many there were.
    pub fn sessions_delete_for_user(&self, user: &str) -> Result<usize, StoreError> {
        let txn = self.begin_auth_write()?;
        let mut deleted = 0;
        {
            let mut table = txn.open_table(SESSIONS)?;
            let mut doomed = Vec::new();
            for row in table.iter()? {
                let (k, v) = row?;
                // An unreadable row is dropped too: it can never be a valid session.
                let owner = codec::decode::<SessionRecord>(v.value(), "session")
                    .map(|s| s.user)
                    .ok();
                if owner.is_none_or(|o| o == user) {
                    doomed.push(k.value().to_owned());
                }
            }
            for key in &doomed {
                if table.remove(key.as_str())?.is_some() {
                    deleted += 1;
                }
            }
        }
        txn.commit()?;
        Ok(deleted)
    }

    /// Writes an API token (insert or replace).
    pub fn token_put(&self, token: &TokenRecord) -> Result<(), StoreError> {
        self.put_row(API_TOKENS, &token.id, token, "api token")
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

    /// Deletes an API token; `false` if there was none.
    pub fn token_delete(&self, id: &str) -> Result<bool, StoreError> {
        self.delete_row(API_TOKENS, id)
    }

    /// Writes a paired screen (insert or replace).
    pub fn screen_put(&self, screen: &ScreenRecord) -> Result<(), StoreError> {
        self.put_row(SCREENS, &screen.id, screen, "screen")
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

    /// Unpairs a screen; `false` if there was none.
    pub fn screen_delete(&self, id: &str) -> Result<bool, StoreError> {
        self.delete_row(SCREENS, id)
    }

    pub(super) fn begin_auth_write(&self) -> Result<redb::WriteTransaction, StoreError> {
        let mut txn = self.db.begin_write()?;
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
        let txn = self.db.begin_read()?;
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
        let txn = self.db.begin_read()?;
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
    use crate::auth::Role;
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

    #[test]
    fn reads_of_missing_auth_tables_are_empty() {
        let (_dir, store) = store();
        assert!(store.users().unwrap().is_empty());
        assert!(store.user_get("anita").unwrap().is_none());
        assert!(store.session_get("x").unwrap().is_none());
        assert!(store.tokens().unwrap().is_empty());
        assert!(store.token_get("x").unwrap().is_none());
        assert!(!store.token_delete("x").unwrap());
        assert_eq!(store.sessions_delete_for_user("anita").unwrap(), 0);
        assert!(store.user_update("anita", |_| {}).unwrap().is_none());
    }

    #[test]
    fn users_insert_refuses_duplicates_and_update_changes_in_place() {
        let (_dir, store) = store();
        assert!(store.user_insert(&user("anita")).unwrap());
        assert!(!store.user_insert(&user("anita")).unwrap());
        let updated = store.user_update("anita", |u| u.disabled = true).unwrap();
        assert!(updated.unwrap().disabled);
        assert!(store.user_get("anita").unwrap().unwrap().disabled);
        store.user_put(&user("bob")).unwrap();
        let names: Vec<_> = store.users().unwrap().into_iter().map(|u| u.name).collect();
        assert_eq!(names, ["anita", "bob"]);
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
        store.token_put(&token).unwrap();
        assert!(store.token_touch("t1", later).unwrap());
        assert_eq!(
            store.token_get("t1").unwrap().unwrap().last_used,
            Some(later)
        );
        assert!(store.token_delete("t1").unwrap());
        assert!(!store.token_touch("t1", later).unwrap());
        assert!(store.tokens().unwrap().is_empty());
    }
}
