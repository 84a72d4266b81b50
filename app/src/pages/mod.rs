pub mod admin;
pub mod approvals;
pub mod catalog;
pub mod instances;
pub mod not_found;
