//! Outbound HTTPS against a real local HTTPS receiver whose certificate comes from a CA made for
//! the test: trusted through `ssl-ca`, refused without it, accepted with
//! `insecure-skip-verify`; and every bad TLS file refused naming the setting and the file.

use std::path::Path;
use std::time::Duration;

use klaxon_http::testing::{Answer, Receiver, TestPki};
use klaxon_http::{Client, ClientOptions, ClientTls, Method, TlsError, server_tls};

const TIMEOUT: Duration = Duration::from_secs(30);

fn client(tls: ClientTls) -> Client {
    Client::new(&ClientOptions { tls }).expect("the client builds")
}

fn trusting(pki: &TestPki) -> ClientTls {
    ClientTls {
        ca: pki.ca.display().to_string(),
        ..ClientTls::default()
    }
}

async fn post(client: &Client, url: &str) -> Result<u16, klaxon_core::HandlerError> {
    let request = client
        .request(Method::POST, url)
        .header("content-type", "application/json")
        .body("{}\n");
    let response = client.send(request, TIMEOUT).await?;
    Ok(response.status().as_u16())
}

#[tokio::test]
async fn a_server_signed_by_the_given_ca_is_trusted_and_the_request_arrives() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::generate(dir.path());
    let receiver = Receiver::https(&pki.server_cert, &pki.server_key, vec![Answer::status(204)]);

    let status = post(&client(trusting(&pki)), receiver.url())
        .await
        .expect("delivered");

    assert_eq!(status, 204);
    let request = receiver.next();
    assert_eq!(
        (request.method.as_str(), request.text().as_str()),
        ("POST", "{}\n")
    );
    assert_eq!(request.header("content-type"), Some("application/json"));
}

#[tokio::test]
async fn without_the_ca_the_certificate_is_refused_naming_the_host_and_not_retried() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::generate(dir.path());
    let receiver = Receiver::https(&pki.server_cert, &pki.server_key, vec![]);

    let err = post(&client(ClientTls::default()), receiver.url())
        .await
        .expect_err("an unknown issuer is refused");

    assert!(
        err.message().contains(&format!(
            "POST {}: TLS with 127.0.0.1 failed: invalid peer certificate",
            receiver.url()
        )),
        "{err}"
    );
    assert!(!err.is_retryable(), "{err}");
    assert!(receiver.next_within(Duration::from_millis(200)).is_none());
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_refused_even_with_ssl_ca() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::generate(dir.path());
    let receiver = Receiver::https(&pki.untrusted_cert, &pki.untrusted_key, vec![]);

    let err = post(&client(trusting(&pki)), receiver.url())
        .await
        .expect_err("refused");

    assert!(err.message().contains("TLS with 127.0.0.1 failed"), "{err}");
}

#[tokio::test]
async fn insecure_skip_verify_accepts_any_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::generate(dir.path());
    let receiver = Receiver::https(&pki.untrusted_cert, &pki.untrusted_key, vec![]);
    let tls = ClientTls {
        insecure_skip_verify: true,
        ..ClientTls::default()
    };

    assert_eq!(
        post(&client(tls), receiver.url()).await.expect("delivered"),
        200
    );
    assert_eq!(receiver.next().method, "POST");
}

#[tokio::test]
async fn a_client_certificate_pair_builds_and_plain_http_still_works() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::generate(dir.path());
    let tls = ClientTls {
        cert: pki.client_cert.display().to_string(),
        key: pki.client_key.display().to_string(),
        ..trusting(&pki)
    };
    let receiver = Receiver::http(vec![Answer::status(201)]);

    assert_eq!(
        post(&client(tls), receiver.url()).await.expect("delivered"),
        201
    );
}

fn client_error(tls: ClientTls) -> String {
    Client::new(&ClientOptions { tls })
        .expect_err("refused")
        .to_string()
}

#[test]
fn bad_client_tls_files_are_refused_naming_the_setting_and_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::generate(dir.path());
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate\n").unwrap();
    let missing = dir.path().join("missing.pem");
    let path = |p: &Path| p.display().to_string();

    let err = client_error(ClientTls {
        ca: path(&missing),
        ..ClientTls::default()
    });
    assert!(
        err.starts_with(&format!("cannot read ssl-ca {}: ", missing.display())),
        "{err}"
    );
    let err = client_error(ClientTls {
        ca: path(&garbage),
        ..ClientTls::default()
    });
    assert_eq!(
        err,
        format!(
            "ssl-ca {} holds no PEM certificate; give a PEM file (\"-----BEGIN CERTIFICATE-----\")",
            garbage.display()
        )
    );
    let err = client_error(ClientTls {
        cert: path(&pki.client_cert),
        ..ClientTls::default()
    });
    assert_eq!(
        err,
        "ssl-cert is set but ssl-key is not: a client certificate needs both"
    );
    let err = client_error(ClientTls {
        key: path(&pki.client_key),
        ..ClientTls::default()
    });
    assert_eq!(
        err,
        "ssl-key is set but ssl-cert is not: a client certificate needs both"
    );
    let err = client_error(ClientTls {
        cert: path(&pki.client_cert),
        key: path(&garbage),
        ..ClientTls::default()
    });
    assert!(
        err.starts_with(&format!(
            "ssl-key {} holds no PEM private key",
            garbage.display()
        )),
        "{err}"
    );
}

#[test]
fn bad_server_tls_files_are_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::generate(dir.path());
    let missing = dir.path().join("missing.pem");

    let err = server_tls(&missing, Path::new("")).unwrap_err();
    assert!(matches!(err, TlsError::Read { .. }), "{err}");
    assert!(
        err.to_string().starts_with(&format!(
            "cannot read [http] https-certificate {}: ",
            missing.display()
        )),
        "{err}"
    );
    // An empty key path means a combined file, as in Kapacitor: this one has no key.
    let err = server_tls(&pki.server_cert, Path::new(""))
        .unwrap_err()
        .to_string();
    assert!(err.contains("holds no PEM private key"), "{err}");
    let err = server_tls(&pki.server_cert, &pki.client_key)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(&format!(
            "the certificate {} and the private key {} cannot be used together",
            pki.server_cert.display(),
            pki.client_key.display()
        )),
        "{err}"
    );
    // A combined file serves.
    let combined = dir.path().join("combined.pem");
    let text = std::fs::read_to_string(&pki.server_cert).unwrap()
        + &std::fs::read_to_string(&pki.server_key).unwrap();
    std::fs::write(&combined, text).unwrap();
    server_tls(&combined, Path::new("")).expect("a combined certificate and key file");
}
