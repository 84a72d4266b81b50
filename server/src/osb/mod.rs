//! The OSB 2.17 client: wire types, calls, answer classification and catalog checks. It knows
//! nothing of storage: the controller decides what to do with each [`Reply`].

pub mod catalog;
pub mod checks;
pub mod client;
pub mod outcome;
pub mod wire;

pub use catalog::{Catalog, CatalogProblem, ParsedCatalog, Plan, SchemaSlot, Service, Severity, parse_catalog};
pub use client::{Auth, ClientConfig, ClientError, LastOperationQuery, OsbClient};
pub use outcome::{Call, Outcome, Reply};
pub use wire::{Context, OriginatingIdentity};

/// The OSB version the client speaks.
pub const API_VERSION: &str = "2.17";

/// Installs ring as rustls's process-wide crypto provider (once; later calls do nothing). The
/// client calls it itself; anything else that builds rustls configs may call it first.
pub fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Err means another provider is installed already, which is as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
