pub mod class_icon;
pub mod copy;
pub mod layout;
pub mod live;
pub mod params;
pub mod safe;
pub mod status;
pub mod ui;
