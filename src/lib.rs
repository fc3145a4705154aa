//! waitless: a self-hosted, single-binary queue appliance for clinics.
//!
//! Layout (dependencies point inward, see docs/architecture.md):

pub mod app; // composition root: wires store, engine, hub and web
pub mod auth; // staff users, sessions, API tokens, login throttling
pub mod backup; // the visits export and the nightly backup
pub mod central; // the event log shipped to a central PostgreSQL
pub mod cli; // the command line
pub mod clock; // the only code that reads the time
pub mod config; // configuration: defaults, file, environment, flags
pub mod control; // the local admin socket the command line uses while the server runs
pub mod devices; // printer, GPIO buttons, serial pagers, USB keypads
pub mod domain; // pure queue rules
pub mod engine; // the single writer
pub mod hub; // event fan-out with sequence numbers
pub mod i18n; // every visible text, per language
#[cfg(test)]
mod input_proptests; // arbitrary outside input never panics a parser
pub mod memory; // freed memory given back to the system (the one unsafe call)
pub mod metrics; // /metrics: Prometheus counters, histograms and gauges
pub mod notify; // announcements: text and speech
pub mod retention; // patients' personal details and when they are deleted
pub mod staff; // staff changes (users, tokens) paired with their audit record
pub mod store; // redb: tables, schema, commits
pub mod tls; // HTTPS: certificate from the configuration or self-signed
pub mod web; // actix-web: API, WebSocket, pages
