//! TLS to the PostgreSQL store, against a real PostgreSQL with `ssl = on` and a test CA's
//! certificate: verified TLS when the URL asks for it, a refused certificate said in words, and
//! the `[store] ca_file` setting through the binary.

mod support;

use std::process::Command;

use digestd::bench::test_ca::TestCa;
use digestd::store::{PgSettings, Store, StoreLocation};
use support::postgres::{PgServer, PASSWORD};
use support::{ensure_deps, run_digestd, skip_unless_ci};

fn location(url: String, ca_file: Option<std::path::PathBuf>) -> StoreLocation {
    StoreLocation::Postgres(PgSettings {
        url,
        password_file: None,
        pool_size: 2,
        ca_file,
    })
}

/// Connections of digestd the server sees as TLS (`t`) or not (`f`), one letter each.
fn digestd_connections(server: &PgServer) -> String {
    server
        .psql(
            "postgres",
            "SELECT string_agg(CASE WHEN s.ssl THEN 't' ELSE 'f' END, '') FROM pg_stat_ssl s
             JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'digestd'",
        )
        .expect("psql")
        .trim()
        .to_string()
}

/// A test CA in `dir` and a PostgreSQL serving its good certificate (`None` after a note when
/// openssl or PostgreSQL is missing; a panic then under CI).
fn tls_server(dir: &std::path::Path) -> Option<(TestCa, PgServer)> {
    ensure_deps();
    let ca = TestCa::create(dir)
        .map_err(|e| skip_unless_ci(&format!("openssl ({e:#})")))
        .ok()?;
    let server = PgServer::start_tls(&ca.good.cert, &ca.good.key)
        .map_err(|e| skip_unless_ci(&format!("PostgreSQL with TLS ({e})")))
        .ok()?;
    Some((ca, server))
}

#[test]
fn the_store_speaks_verified_tls_when_asked_and_says_why_a_certificate_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some((ca, server)) = tls_server(dir.path()) else {
        return;
    };
    let db = server.fresh_database();
    let url = |query: &str| {
        format!(
            "postgres://postgres:{PASSWORD}@127.0.0.1:{}/{db}{query}",
            server.port()
        )
    };

    // Asked for, with the test CA trusted: the connection is TLS.
    let store = Store::open_at(&location(
        url("?sslmode=verify-full"),
        Some(ca.ca_file.clone()),
    ))
    .expect("TLS store");
    assert!(
        store
            .pending_deliveries()
            .expect("a query over TLS")
            .is_empty(),
        "a fresh store"
    );
    assert!(
        digestd_connections(&server).contains('t'),
        "the server sees a TLS connection: {}",
        digestd_connections(&server)
    );
    drop(store);

    // The CA's file through the URL's sslrootcert, as libpq spells it.
    let root_cert = format!("?sslmode=require&sslrootcert={}", ca.ca_file.display());
    drop(Store::open_at(&location(url(&root_cert), None)).expect("sslrootcert"));

    // Without the CA: refused, and said so with the host.
    let Err(refused) = Store::open_at(&location(url("?sslmode=require"), None)) else {
        panic!("an unknown CA is refused");
    };
    let text = refused.to_string();
    assert!(
        text.contains("unknown certificate authority") && text.contains("127.0.0.1"),
        "{text}"
    );
    assert!(!text.contains(PASSWORD), "no password in errors: {text}");

    // On this machine and not asked for: plain, as before.
    let plain = Store::open_at(&location(url(""), None)).expect("plain on loopback");
    drop(plain);
}

#[test]
fn the_binary_uses_store_ca_file_and_refuses_clear_text_off_this_machine() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some((ca, server)) = tls_server(dir.path()) else {
        return;
    };
    let db = server.fresh_database();
    std::fs::write(dir.path().join("pg-password"), format!("{PASSWORD}\n")).expect("password");
    let config = support::config::Spec {
        store_pg: Some(format!(
            "url = \"postgres://postgres@127.0.0.1:{}/{db}?sslmode=verify-full\"\n\
             password_file = \"pg-password\"\nca_file = \"{}\"",
            server.port(),
            ca.ca_file.display()
        )),
        ..support::config::Spec::default()
    }
    .write_in(dir.path());
    let out = run_digestd(&config, &["status"], None);
    assert!(
        out.status.success(),
        "status over TLS: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // A server elsewhere with sslmode=disable: refused at load, with the line, before any
    // connection is tried.
    let text = std::fs::read_to_string(&config).expect("config");
    let remote = text.replace(
        &format!("127.0.0.1:{}/{db}?sslmode=verify-full", server.port()),
        "db.example.org:5432/digestd?sslmode=disable",
    );
    assert_ne!(remote, text, "the URL was replaced");
    std::fs::write(&config, remote).expect("config");
    let out = Command::new(support::bin())
        .args(["check-config", "-c"])
        .arg(&config)
        .output()
        .expect("check-config");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "refused");
    assert!(
        stderr.contains("store.url") && stderr.contains("in clear"),
        "{stderr}"
    );
}
