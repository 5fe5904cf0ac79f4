//! A throwaway certificate authority made with `openssl` in a directory, for the mail servers
//! of `bench send --tls` and the TLS tests (`tests/support` uses it for Postfix and Dovecot).
//!
//! [`TestCa::create`] makes, with ECDSA P-256 keys:
//! - `ca.pem`: the test CA, which clients trust through `ca_file`;
//! - [`TestCa::good`]: a server certificate for `localhost` and `127.0.0.1`, signed by the CA;
//! - [`TestCa::wrong_host`]: signed by the CA, but only for `wrong-host.example.org`;
//! - [`TestCa::expired`]: for `localhost` and `127.0.0.1`, signed by the CA, valid only in 2020;
//! - [`TestCa::unknown_ca`]: for `localhost` and `127.0.0.1`, signed by a second CA nobody
//!   trusts.
//!
//! A self-signed server certificate would not do for the good case: rustls refuses a CA
//! certificate used as the server's own.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context};

/// A server certificate and its key (PEM files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerCert {
    /// The certificate (PEM).
    pub cert: PathBuf,
    /// Its private key (PEM, unencrypted).
    pub key: PathBuf,
}

/// The files of a test CA (see the module doc).
#[derive(Debug, Clone)]
pub struct TestCa {
    /// The trusted test CA's certificate (PEM): what a client's `ca_file` names.
    pub ca_file: PathBuf,
    /// For `localhost` and `127.0.0.1`, signed by the trusted CA.
    pub good: ServerCert,
    /// For `wrong-host.example.org` only, signed by the trusted CA.
    pub wrong_host: ServerCert,
    /// For `localhost` and `127.0.0.1`, signed by the trusted CA, expired (valid in 2020 only).
    pub expired: ServerCert,
    /// For `localhost` and `127.0.0.1`, signed by a CA that is not trusted.
    pub unknown_ca: ServerCert,
}

/// Subject alternative names of the certificates made for the loopback host.
const LOOPBACK_NAMES: &str = "DNS:localhost,IP:127.0.0.1";

/// openssl arguments for a new unencrypted ECDSA P-256 key.
const EC_KEY: &str = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";

impl TestCa {
    /// Makes the CA and the four server certificates in `dir` (which must exist). All files are
    /// world-readable (servers read them after dropping privileges).
    pub fn create(dir: &Path) -> anyhow::Result<TestCa> {
        let openssl = find_openssl().context("openssl is not installed (.ci/install-deps)")?;
        let ossl = Openssl {
            program: openssl,
            dir: dir.to_path_buf(),
        };
        ossl.make_ca("ca", "digestd-test-CA")?;
        ossl.make_ca("other-ca", "digestd-untrusted-CA")?;
        let good = ossl.make_server("good", "ca", LOOPBACK_NAMES, None)?;
        let wrong_host =
            ossl.make_server("wrong-host", "ca", "DNS:wrong-host.example.org", None)?;
        let expired = ossl.make_server(
            "expired",
            "ca",
            LOOPBACK_NAMES,
            Some(("20200101000000Z", "20200201000000Z")),
        )?;
        let unknown_ca = ossl.make_server("unknown-ca", "other-ca", LOOPBACK_NAMES, None)?;
        for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "pem" || e == "key") {
                set_mode(&path, 0o644)?;
            }
        }
        Ok(TestCa {
            ca_file: dir.join("ca.pem"),
            good,
            wrong_host,
            expired,
            unknown_ca,
        })
    }
}

struct Openssl {
    program: PathBuf,
    dir: PathBuf,
}

impl Openssl {
    /// Runs openssl with `args`, split at white space (no argument here holds any).
    fn run(&self, args: &str) -> anyhow::Result<()> {
        let out = Command::new(&self.program)
            .args(args.split_whitespace())
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("running openssl {args:?}"))?;
        if !out.status.success() {
            bail!(
                "openssl {args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    }

    /// A self-signed CA `NAME.pem` / `NAME.key`, valid for two days.
    fn make_ca(&self, name: &str, common_name: &str) -> anyhow::Result<()> {
        self.run(&format!(
            "req -x509 {EC_KEY} -keyout {name}.key -out {name}.pem -days 2 -subj /CN={common_name}"
        ))
    }

    /// A server certificate `NAME.pem` / `NAME.key` for `san`, signed by CA `ca`; valid for two
    /// days from now, or between the two given dates (`YYYYMMDDHHMMSSZ`).
    fn make_server(
        &self,
        name: &str,
        ca: &str,
        san: &str,
        dates: Option<(&str, &str)>,
    ) -> anyhow::Result<ServerCert> {
        let (key, csr, pem, ext) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.pem"),
            format!("{name}.ext"),
        );
        let first_name = san.split(',').next().unwrap_or(san);
        let cn = first_name.split_once(':').map_or(first_name, |(_, v)| v);
        self.run(&format!(
            "req {EC_KEY} -keyout {key} -out {csr} -subj /CN={cn}"
        ))?;
        std::fs::write(
            self.dir.join(&ext),
            format!(
                "subjectAltName = {san}\nbasicConstraints = CA:FALSE\nextendedKeyUsage = serverAuth\n"
            ),
        )?;
        match dates {
            None => self.run(&format!(
                "x509 -req -in {csr} -CA {ca}.pem -CAkey {ca}.key -CAcreateserial -out {pem} \
                 -days 2 -extfile {ext}"
            ))?,
            Some((start, end)) => {
                // `openssl x509` cannot back-date; `openssl ca` can, with a minimal database.
                let db = format!("{name}-db");
                let db_dir = self.dir.join(&db);
                std::fs::create_dir_all(&db_dir)?;
                std::fs::write(db_dir.join("index.txt"), "")?;
                std::fs::write(db_dir.join("serial"), "1000\n")?;
                let cnf = format!("{name}-ca.cnf");
                std::fs::write(
                    self.dir.join(&cnf),
                    format!(
                        "[ca]\ndefault_ca = test\n[test]\ndatabase = {d}/index.txt\n\
                         new_certs_dir = {d}\nserial = {d}/serial\ndefault_md = sha256\n\
                         policy = any\n[any]\ncommonName = supplied\n",
                        d = db_dir.display()
                    ),
                )?;
                self.run(&format!(
                    "ca -batch -notext -config {cnf} -cert {ca}.pem -keyfile {ca}.key -in {csr} \
                     -out {pem} -startdate {start} -enddate {end} -extfile {ext}"
                ))?;
            }
        }
        Ok(ServerCert {
            cert: self.dir.join(pem),
            key: self.dir.join(key),
        })
    }
}

fn set_mode(path: &Path, mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("chmod {}", path.display()))
}

/// `openssl` in `PATH` or `/usr/bin`.
fn find_openssl() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin")])
        .map(|dir| dir.join("openssl"))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn makes_the_ca_and_four_server_certificates() {
        let Some(_) = find_openssl() else {
            assert!(std::env::var_os("CI").is_none(), "openssl is missing");
            return;
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = TestCa::create(dir.path()).expect("test CA");
        for c in [&ca.good, &ca.wrong_host, &ca.expired, &ca.unknown_ca] {
            let pem = std::fs::read_to_string(&c.cert).expect("cert");
            assert!(pem.contains("BEGIN CERTIFICATE"), "{}", c.cert.display());
            assert!(c.key.is_file());
        }
        assert!(ca.ca_file.is_file());
    }
}
