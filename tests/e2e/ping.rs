//! The ping route, the 404 answer and SIGTERM, against a real klaxond.

use klaxon_e2e::Klaxond;

#[test]
fn ping_answers_204_with_version_headers() {
    let server = Klaxond::start();
    for method in ["GET", "HEAD"] {
        let response = server.send(method, "/kapacitor/v1/ping", "");
        assert_eq!(response.status(), 204, "{method}");
        let headers = response.headers();
        assert!(headers.contains_key("x-kapacitor-version"), "{headers:?}");
        assert_eq!(headers["x-klaxon-version"], env!("CARGO_PKG_VERSION"));
        assert!(headers.contains_key("request-id"));
    }
}

#[test]
fn unknown_routes_answer_kapacitors_404_json() {
    let server = Klaxond::start();
    let response = server.get("/kapacitor/v1/nosuch");
    assert_eq!(response.status(), 404);
    assert_eq!(
        response.headers()["content-type"],
        "application/json; charset=utf-8"
    );
    assert_eq!(
        response.text().unwrap(),
        "{\n    \"error\": \"Not Found\",\n    \"message\": \"Not Found\"\n}"
    );
}

#[test]
fn sigterm_stops_the_server_with_exit_zero() {
    let mut server = Klaxond::start();
    let status = server.stop();
    assert!(status.success(), "{status}");
    assert!(
        server.log_text().contains("klaxon stopped"),
        "{}",
        server.log_text()
    );
}
