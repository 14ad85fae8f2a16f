//! What the store tests share: a fresh PostgreSQL database when a server is named.

/// A fresh database on the server named by `SWITCHYARD_TEST_POSTGRES_URL`.
pub fn postgres_url() -> Option<String> {
    let Ok(base) = std::env::var("SWITCHYARD_TEST_POSTGRES_URL") else {
        assert!(std::env::var("CI").is_err(), "CI must set SWITCHYARD_TEST_POSTGRES_URL: a skipped PostgreSQL test is a failure there");
        eprintln!(
            "SKIPPED: set SWITCHYARD_TEST_POSTGRES_URL=postgres://… to run the PostgreSQL test"
        );
        return None;
    };
    let name = format!("sy_test_{}_{}", std::process::id(), rand_suffix());
    let status = std::process::Command::new("psql")
        .args([base.as_str(), "-qc", &format!("CREATE DATABASE {name}")])
        .status()
        .expect("psql runs");
    assert!(status.success(), "could not create database {name}");
    let (prefix, _) = base.rsplit_once('/').expect("URL ends with /database");
    Some(format!("{prefix}/{name}"))
}

fn rand_suffix() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos()
}
