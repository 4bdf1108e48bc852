//! Form-encoded dialects with bodies the fixture files cannot carry verbatim (CRLF multipart).

use crate::support::{ALICE_KEY, TestApp};

#[tokio::test]
async fn res_php_takes_multipart_forms_too() {
    let app = TestApp::new().await;
    let boundary = "----verdict7MA4YWxkTrZu0gW";
    let mut body = String::new();
    for (name, value) in [
        ("key", ALICE_KEY),
        ("action", "reportbad"),
        ("id", "1003"),
        ("json", "1"),
    ] {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    let content_type = format!("multipart/form-data; boundary={boundary}");
    let reply = app
        .post("/res.php", &[("content-type", content_type.as_str())], body)
        .await;
    assert_eq!(
        reply.text(),
        r#"{"status":1,"request":"OK_REPORT_RECORDED"}"#
    );
}

#[tokio::test]
async fn res_php_form_values_win_over_the_query_string() {
    let app = TestApp::new().await;
    let reply = app
        .post(
            "/res.php?action=reportgood&id=1004",
            &[("content-type", "application/x-www-form-urlencoded")],
            format!("key={ALICE_KEY}&action=reportbad&id=1003"),
        )
        .await;
    assert_eq!(reply.text(), "OK_REPORT_RECORDED");
    let (_, report) = app
        .engine
        .task(&verdict_domain::TaskId::parse("1003").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(report.unwrap().kind, verdict_domain::ReportKind::Incorrect);
}
