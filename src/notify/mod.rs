//! Announcements to patients: the text of a call in each language and its sound.
//! (Email and SMS arrive in a later release.)

pub mod announce;
pub mod announcer;
pub mod speech;
