//! The optional servers the unit tests use (PostgreSQL, Redis), found as the
//! integration tests find them (`tests/integration/support.rs`).

/// The URL in environment variable `var` of the test server `what`, or `None`
/// after saying the test is not run: when it is not set, or when
/// `SLUICE_TEST_OFFLINE=1` forces every optional service absent. With
/// `SLUICE_REQUIRE_SERVICES` set, as in CI, a missing server fails the test
/// (and cannot be combined with `SLUICE_TEST_OFFLINE`).
pub fn service_url(var: &str, what: &str) -> Option<String> {
    let required = std::env::var_os("SLUICE_REQUIRE_SERVICES").is_some();
    if std::env::var("SLUICE_TEST_OFFLINE").is_ok_and(|v| v == "1") {
        assert!(
            !required,
            "SLUICE_TEST_OFFLINE=1 forces every optional service absent; \
             it cannot be combined with SLUICE_REQUIRE_SERVICES"
        );
        eprintln!("NOT RUN: no {what} (SLUICE_TEST_OFFLINE=1)");
        return None;
    }
    let Ok(url) = std::env::var(var) else {
        assert!(
            !required,
            "{var} is not set: run `eval \"$(.ci/services)\"`"
        );
        eprintln!("NOT RUN: no {what} (set {var}; see .ci/services)");
        return None;
    };
    Some(url)
}
