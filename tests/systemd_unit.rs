//! Packaging checks that need no systemd: the unit says what the daemon relies on, the Debian
//! package's example config is `config/digestd.toml` with the installed paths (and loads), and
//! every file `[package.metadata.deb]` ships exists.
//!
//! The hardening score and `systemd-analyze verify` are checked by `.ci/check-systemd`.
//! `DIGESTD_BLESS=1 cargo test --test systemd_unit` rewrites `systemd/deb/digestd.toml.example`
//! after a change to `config/digestd.toml`.

use std::path::{Path, PathBuf};

use digestd::config::{Config, TransportConfig};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("reading {rel}: {e}"))
}

/// The exact edits that turn the demo config into the package's example, in order.
const PACKAGED_EDITS: &[(&str, &str)] = &[
    (
        "# digestd configuration — annotated example, and the configuration `digestd demo` runs with.\n",
        "# digestd configuration — annotated example, and the configuration `digestd demo` runs with.\n\
         # Installed by the Debian package as /etc/digestd/digestd.toml.example, with the package's\n\
         # paths: copy it to digestd.toml (and people.csv.example to people.csv), then edit.\n",
    ),
    (
        "path = \"../digestd.sqlite\"\n",
        "path = \"/var/lib/digestd/digestd.sqlite\"\n",
    ),
    (
        "kind = \"maildir\"\n# maildir: the Maildir root; tmp/, new/ and cur/ are created inside it.\npath = \"../outbox\"\n",
        "kind = \"smtp\"\n# The MTA on this host (the service may reach loopback only: see\n\
         # /usr/share/doc/digestd/README.systemd.md to allow a remote relay).\nhost = \"localhost\"\n",
    ),
    (
        "templates = \"../templates\"\n",
        "templates = \"/usr/share/digestd/templates\"\n",
    ),
];

const PACKAGED_CONFIG: &str = "systemd/deb/digestd.toml.example";

fn packaged_config_from_demo() -> String {
    let mut text = read("config/digestd.toml");
    for (from, to) in PACKAGED_EDITS {
        assert_eq!(
            text.matches(from).count(),
            1,
            "config/digestd.toml no longer has exactly one {from:?}: update PACKAGED_EDITS"
        );
        text = text.replacen(from, to, 1);
    }
    text
}

#[test]
fn packaged_example_config_follows_the_demo_config() {
    let expected = packaged_config_from_demo();
    let path = root().join(PACKAGED_CONFIG);
    if std::env::var_os("DIGESTD_BLESS").is_some() {
        std::fs::write(&path, &expected).expect("write packaged config");
    }
    let actual = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        actual == expected,
        "{PACKAGED_CONFIG} is out of date: run DIGESTD_BLESS=1 cargo test --test systemd_unit"
    );
}

#[test]
fn packaged_example_config_loads_with_installed_layout() {
    // Lay the package out in a temp dir: templates where the config says, people beside it.
    let dir = tempfile::tempdir().expect("dir");
    let templates = root().join("templates");
    let text = packaged_config_from_demo()
        .replace(
            "/usr/share/digestd/templates",
            &templates.display().to_string(),
        )
        .replace(
            "/var/lib/digestd/digestd.sqlite",
            &dir.path().join("digestd.sqlite").display().to_string(),
        );
    let cfg_path = dir.path().join("digestd.toml");
    std::fs::write(&cfg_path, text).expect("write");
    std::fs::copy(
        root().join("config/people.csv"),
        dir.path().join("people.csv"),
    )
    .expect("people");
    let cfg = Config::load(&cfg_path).unwrap_or_else(|e| panic!("packaged config: {e}"));
    assert!(matches!(
        &cfg.mail.transport,
        TransportConfig::Smtp { host, .. } if host == "localhost"
    ));
    assert_eq!(cfg.store_path, dir.path().join("digestd.sqlite"));
}

#[test]
fn unit_declares_what_the_daemon_relies_on() {
    let unit = read("systemd/digestd.service");
    let has = |line: &str| unit.lines().any(|l| l.trim() == line);
    for line in [
        "Type=notify",
        "NotifyAccess=main",
        "ExecStart=/usr/bin/digestd run -c /etc/digestd/digestd.toml",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "Restart=on-failure",
        "User=digestd",
        "StateDirectory=digestd",
        "ConfigurationDirectory=digestd",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=",
        "MemoryDenyWriteExecute=yes",
        "SystemCallFilter=@system-service",
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
        "UMask=0077",
    ] {
        assert!(has(line), "systemd/digestd.service lacks {line:?}");
    }
    let watchdog = unit
        .lines()
        .find_map(|l| l.trim().strip_prefix("WatchdogSec="))
        .expect("WatchdogSec=");
    assert!(watchdog
        .trim_end_matches('s')
        .parse::<u32>()
        .is_ok_and(|s| s >= 10));
    // The daemon's own drain bound (30 s by default) must fit in the stop timeout.
    let stop = unit
        .lines()
        .find_map(|l| l.trim().strip_prefix("TimeoutStopSec="))
        .expect("TimeoutStopSec=");
    assert!(stop
        .trim_end_matches('s')
        .parse::<u32>()
        .is_ok_and(|s| s > 30));
    let sysusers = read("systemd/digestd.sysusers");
    assert!(sysusers.lines().any(|l| l.starts_with("u digestd ")));
}

#[test]
fn deb_assets_exist() {
    let manifest: toml::Table = toml::from_str(&read("Cargo.toml")).expect("Cargo.toml parses");
    let deb = &manifest["package"]["metadata"]["deb"];
    let assets = deb["assets"].as_array().expect("assets");
    assert!(!assets.is_empty());
    for asset in assets {
        let src = asset[0].as_str().expect("source");
        if src.starts_with("target/") {
            continue; // built by `cargo deb`
        }
        if let Some(base) = src.split("/**").next().filter(|_| src.contains('*')) {
            let dir = root().join(base);
            assert!(
                std::fs::read_dir(&dir).is_ok_and(|mut d| d.next().is_some()),
                "asset glob {src}: {} is empty or missing",
                dir.display()
            );
        } else {
            assert!(root().join(src).is_file(), "asset {src} missing");
        }
    }
    let scripts = deb["maintainer-scripts"]
        .as_str()
        .expect("maintainer-scripts");
    let postinst = read(&format!("{scripts}postinst"));
    assert!(
        postinst.contains("#DEBHELPER#"),
        "cargo-deb needs the #DEBHELPER# token"
    );
    let units = deb["systemd-units"]["unit-scripts"]
        .as_str()
        .expect("unit-scripts");
    assert!(Path::new(&root().join(units).join("digestd.service")).is_file());
}
