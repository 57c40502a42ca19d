//! The HTTP side: the one route table, the error mapping, and the API's own documentation.

pub mod csrf;
pub mod docs;
pub mod error;
pub mod extract;
pub mod routes;
pub mod site;

pub use routes::{Function, Route, app, local_app, local_app_serving, routes};

/// The timeout of every HTTP function (template.yaml's `Timeout`; tests/api/template.rs checks it).
pub const HTTP_FUNCTION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_chain_of_dependency_waits_fits_the_functions_timeout() {
        // A create request whose task cannot be stored: the PUT, a connection that never comes,
        // then the object's removal; each waits at most its whole budget.
        let worst = crate::aws::SDK_OPERATION_TIMEOUT * 2 + crate::db::ACQUIRE_TIMEOUT;
        assert!(
            worst + std::time::Duration::from_secs(1) <= HTTP_FUNCTION_TIMEOUT,
            "{worst:?} of waiting leaves no room in {HTTP_FUNCTION_TIMEOUT:?}"
        );
    }
}
