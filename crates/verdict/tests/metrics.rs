//! `verdict serve` as an operator runs it: `serve` installs the recorder, `/metrics` takes the
//! admin token, and every response carries the request's id, which the log line of a judged
//! report carries too.

#[expect(
    dead_code,
    reason = "the multi-node and outage tests use the rest of the shared harness"
)]
mod support;

use serde_json::json;

use support::{ADMIN, Node, client, create_account, ingest, send};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_answers_metrics_to_the_admin_token_and_logs_each_request_with_its_id() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("v.db").display());
    let node = Node::start(&url, &[]);
    let http = client();

    // A report with an id of the client's choosing: answered with it, and logged with it.
    let (alice, key) = create_account(&http, &node, "alice").await;
    ingest(&http, &node, &[("t-1".to_owned(), "image", "0.001")], alice).await;
    let reply = http
        .post(node.url("/v1/reports"))
        .bearer_auth(&key)
        .header("x-request-id", "e2e-report-7")
        .json(&json!({ "task": "t-1", "kind": "incorrect" }))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 201, "recorded");
    assert_eq!(reply.headers()["x-request-id"], "e2e-report-7");
    let logged = node.wait_for("e2e-report-7");
    assert!(logged.contains("report judged"), "{logged}");
    assert!(logged.contains("path=/v1/reports"), "{logged}");
    assert!(!logged.contains(&key), "{logged}");
    // Without one, the server makes one.
    let reply = http.get(node.url("/healthz")).send().await.unwrap();
    let made = reply.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(made.len(), 36, "{made}");

    // The operator's only, refused in the native API's shape.
    let open = send(http.get(node.url("/metrics"))).await.unwrap();
    assert_eq!(open.status, 401, "{}", open.body);
    assert_eq!(
        open.json()["error"]["code"],
        "unauthorized",
        "{}",
        open.body
    );
    let client_key = send(http.get(node.url("/metrics")).bearer_auth(&key))
        .await
        .unwrap();
    assert_eq!(client_key.status, 403, "{}", client_key.body);
    let scraped = send(http.get(node.url("/metrics")).bearer_auth(ADMIN))
        .await
        .unwrap();
    assert_eq!(scraped.status, 200, "{}", scraped.body);
    // The one report, whatever its verdict.
    let native = r#"verdict_reports_total{dialect="native",type="image",outcome="recorded","#;
    let reports: f64 = scraped
        .body
        .lines()
        .filter(|line| line.starts_with(native))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(reports, 1.0, "{}", scraped.body);
}
