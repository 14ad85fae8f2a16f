//! The demo setup (every password `demo`) refuses to listen anywhere but loopback, and says
//! why; a bad configuration file is refused at startup with the name of the problem.

use std::process::Command;

fn serve(args: &[&str]) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("s.db").display());
    let out = Command::new(env!("CARGO_BIN_EXE_switchyard-under-test"))
        .args(["serve", "--database-url", &db])
        .args(args)
        .output()
        .expect("switchyard runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn demo_setup_refuses_a_public_address() {
    let (ok, err) = serve(&["--listen", "0.0.0.0:0"]);
    assert!(!ok);
    assert!(err.contains("serves only on loopback"), "{err}");
}

#[test]
fn a_configuration_with_an_unknown_queue_is_refused_by_name() {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        file.path(),
        "[[agents]]\nid = \"zoe\"\nqueues = [\"nowhere\"]\n",
    )
    .unwrap();
    let (ok, err) = serve(&[
        "--listen",
        "127.0.0.1:0",
        "--config",
        file.path().to_str().unwrap(),
    ]);
    assert!(!ok);
    assert!(err.contains("agent zoe: unknown queue nowhere"), "{err}");
}
