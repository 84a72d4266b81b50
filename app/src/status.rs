//! What the portal reports about itself: shown by the "Check connection" control.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortalStatus {
    /// The portal's version (the server binary's crate version).
    pub version: String,
    /// Which database the portal keeps its records in: "SQLite" or "PostgreSQL".
    pub database: String,
    /// Registered brokers.
    pub brokers: u64,
    /// Service classes offered by all brokers together.
    pub services: u64,
    /// Server time of the check, RFC 3339, so a person can see the answer is fresh.
    pub checked_at: String,
}
