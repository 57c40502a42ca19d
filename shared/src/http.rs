//! The HTTP side: the one route table, the error mapping, and the API's own documentation.

pub mod csrf;
pub mod docs;
pub mod error;
pub mod extract;
pub mod routes;

pub use routes::{Function, Route, app, local_app, routes};
