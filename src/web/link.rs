//! Patients' links: a ticket's status page `/t/{id}-{mac}` and a booking's page
//! `/b/{id}-{mac}`, where the mac is a keyed hash of the id (with the kind of link) and a
//! secret kept in the database. Unguessable (80 bits), yet needs no table: the link is checked
//! by recomputing it, and stays valid across restarts and for archived tickets.

use sha2::{Digest, Sha256};

use crate::domain::TicketId;

/// Makes and checks status links.
#[derive(Clone)]
pub struct StatusLinks {
    secret: [u8; 32],
}

impl std::fmt::Debug for StatusLinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StatusLinks")
    }
}

impl StatusLinks {
    /// Links signed with `secret`.
    pub fn new(secret: [u8; 32]) -> Self {
        Self { secret }
    }

    /// The token of a ticket's status link.
    pub fn token(&self, id: TicketId) -> String {
        let mut hash = Sha256::new();
        hash.update(self.secret);
        hash.update(id.0.to_le_bytes());
        let mac: String = hash.finalize()[..10]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("{}-{mac}", id.0)
    }

    /// The token of a booking's page (`/b/{token}`): like a ticket's, in its own domain so
    /// that a ticket's token never opens a booking.
    pub fn booking_token(&self, id: u64) -> String {
        let mut hash = Sha256::new();
        hash.update(self.secret);
        hash.update(b"booking:");
        hash.update(id.to_le_bytes());
        let mac: String = hash.finalize()[..10]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("{id}-{mac}")
    }

    /// The booking a `/b/` token is for, if it is genuine.
    pub fn verify_booking(&self, token: &str) -> Option<u64> {
        let (id, _) = token.split_once('-')?;
        let id: u64 = id.parse().ok()?;
        same(&self.booking_token(id), token).then_some(id)
    }

    /// A keyed hash of `value` (hex, 128 bits): compares equal values without keeping them
    /// (a booking's phone number for the cap per patient).
    pub fn keyed_hash(&self, value: &str) -> String {
        let mut hash = Sha256::new();
        hash.update(self.secret);
        hash.update(b"keyed-hash:");
        hash.update(value.as_bytes());
        hash.finalize()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The path of a ticket's status page.
    pub fn path(&self, id: TicketId) -> String {
        format!("/t/{}", self.token(id))
    }

    /// The ticket a token is for, if it is genuine.
    pub fn verify(&self, token: &str) -> Option<TicketId> {
        let (id, _) = token.split_once('-')?;
        let id = TicketId(id.parse().ok()?);
        same(&self.token(id), token).then_some(id)
    }
}

/// Whether two tokens are equal, compared without stopping at the first difference.
pub(crate) fn same(expected: &str, token: &str) -> bool {
    expected.len() == token.len()
        && expected
            .bytes()
            .zip(token.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_booking_token_verifies_and_a_tickets_does_not() {
        let links = StatusLinks::new([7; 32]);
        let token = links.booking_token(42);
        assert_eq!(links.verify_booking(&token), Some(42));
        assert_eq!(links.verify_booking(&links.token(TicketId(42))), None);
        assert_eq!(links.verify(&token), None);
        assert_eq!(links.verify_booking("42-00"), None);
        assert_eq!(links.verify_booking("x-y"), None);
    }

    #[test]
    fn a_token_verifies_and_a_forged_one_does_not() {
        let links = StatusLinks::new([7; 32]);
        let token = links.token(TicketId(42));
        assert!(token.starts_with("42-"));
        assert_eq!(links.verify(&token), Some(TicketId(42)));
        assert_eq!(links.verify(&token.replacen("42-", "43-", 1)), None);
        assert_eq!(links.verify("42"), None);
        assert_eq!(links.verify("x-y"), None);
        let other = StatusLinks::new([8; 32]);
        assert_eq!(other.verify(&token), None);
    }
}
