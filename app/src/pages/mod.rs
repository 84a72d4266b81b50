pub mod admin;
pub mod approvals;
pub mod catalog;
pub mod class;
pub mod instance;
pub mod instances;
pub mod not_found;
pub mod request;
