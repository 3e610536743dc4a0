//! Issue #23: klaxond serving HTTPS with Kapacitor's `[http]` keys, to the klaxon CLI and to curl,
//! with a certificate from a CA made for the test; and refusing to start on a certificate it
//! cannot use.

use std::path::Path;
use std::process::Command;

use klaxon_e2e::{Klaxond, klaxon_bin, run_klaxond};
use klaxon_http::testing::TestPki;

fn https_config(cert: &Path, key: &Path) -> String {
    format!(
        "[http]\nhttps-enabled = true\nhttps-certificate = {:?}\nhttps-private-key = {:?}\n",
        cert.display().to_string(),
        key.display().to_string()
    )
}

/// The klaxon CLI against `url`, with `args` before the command.
fn klaxon(url: &str, args: &[&str]) -> std::process::Output {
    Command::new(klaxon_bin())
        .arg("-url")
        .arg(url)
        .args(args)
        .env_remove("KLAXON_URL")
        .env_remove("KAPACITOR_URL")
        .env_remove("KLAXON_UNSAFE_SSL")
        .env_remove("KAPACITOR_UNSAFE_SSL")
        .env_remove("KLAXON_CACERT")
        .output()
        .expect("run klaxon")
}

#[test]
fn the_cli_and_curl_reach_klaxond_over_https_and_refuse_an_unknown_ca() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::generate(dir.path());
    let server = Klaxond::builder()
        .config(&https_config(&pki.server_cert, &pki.server_key))
        .start();
    let url = format!("https://127.0.0.1:{}", server.addr().port());
    assert_eq!(server.url(), url);
    assert!(server.log_text().contains("scheme=https"));

    let ca = pki.ca.to_str().unwrap();
    let listed = klaxon(&url, &["-cacert", ca, "list", "tasks"]);
    assert!(listed.status.success(), "{listed:?}");
    assert!(
        String::from_utf8_lossy(&listed.stdout).starts_with("ID "),
        "{listed:?}"
    );
    // Kapacitor's documented form: -skipVerify.
    let skipped = klaxon(&url, &["-skipVerify", "list", "tasks"]);
    assert!(skipped.status.success(), "{skipped:?}");

    let refused = klaxon(&url, &["list", "tasks"]);
    assert_eq!(refused.status.code(), Some(4), "{refused:?}");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("certificate"), "{stderr}");

    let curl = Command::new("curl")
        .args([
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--cacert",
            ca,
        ])
        .arg(format!("{url}/kapacitor/v1/ping"))
        .output()
        .expect("run curl");
    assert_eq!(String::from_utf8_lossy(&curl.stdout), "204", "{curl:?}");

    // Plain HTTP to the HTTPS port gets nothing, and the server goes on serving.
    let plain = Command::new("curl")
        .args([
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "20",
        ])
        .arg(format!(
            "http://127.0.0.1:{}/kapacitor/v1/ping",
            server.addr().port()
        ))
        .output()
        .expect("run curl");
    assert_ne!(String::from_utf8_lossy(&plain.stdout), "204", "{plain:?}");
    assert_eq!(server.get("/kapacitor/v1/ping").status(), 204);
}

#[test]
fn a_combined_certificate_and_key_file_serves_as_in_kapacitor() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::generate(dir.path());
    let combined = dir.path().join("klaxon.pem");
    let text = std::fs::read_to_string(&pki.server_cert).unwrap()
        + &std::fs::read_to_string(&pki.server_key).unwrap();
    std::fs::write(&combined, text).unwrap();
    let server = Klaxond::builder()
        .config(&format!(
            "[http]\nhttps-enabled = true\nhttps-certificate = {:?}\n",
            combined.display().to_string()
        ))
        .start();
    assert_eq!(server.get("/kapacitor/v1/ping").status(), 204);
}

#[test]
fn certificates_that_cannot_be_used_refuse_to_start_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::generate(dir.path());
    let missing = dir.path().join("missing.pem");
    let cases = [
        (
            https_config(&missing, &pki.server_key),
            format!("cannot read [http] https-certificate {}", missing.display()),
        ),
        (
            https_config(&pki.server_cert, &pki.client_key),
            format!(
                "the certificate {} and the private key {} cannot be used together",
                pki.server_cert.display(),
                pki.client_key.display()
            ),
        ),
        (
            https_config(&pki.server_key, &pki.server_key),
            "holds no PEM certificate".to_owned(),
        ),
    ];
    for (config, expected) in cases {
        let path = dir.path().join("klaxon.toml");
        let config = format!("{config}bind-address = \"127.0.0.1:0\"\n");
        std::fs::write(&path, &config).unwrap();
        let output = run_klaxond(&["--config", path.to_str().unwrap()], dir.path());
        assert!(!output.status.success(), "started with {config}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(&expected), "{config}: {stderr}");
        assert!(stderr.contains("https-enabled"), "{stderr}");
    }
}
