//! Each seed document's own example request, with only host, key and ids swapped for the test
//! world's, gets exactly the seed's example response body. The examples are cut out of the seed
//! text itself (`docs/seeds/`), not retyped. Seed bodies shown on one line must match byte for
//! byte; bodies the documents pretty-print are compared with the insignificant whitespace
//! between JSON tokens removed, keys in the seed's order.

use axum::http::StatusCode;

use crate::support::{ALICE_KEY, TestApp};

fn seed(name: &str) -> String {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/seeds");
    let file = std::fs::read_dir(&dir)
        .expect("docs/seeds")
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(name))
        .unwrap_or_else(|| panic!("seed {name} not found"));
    std::fs::read_to_string(file).unwrap()
}

/// The text between `start` (inclusive) and the first `end` after it (inclusive).
fn cut<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text
        .find(start)
        .unwrap_or_else(|| panic!("{start:?} not in seed"));
    let len = text[from..]
        .find(end)
        .unwrap_or_else(|| panic!("{end:?} not after {start:?}"))
        + end.len();
    &text[from..from + len]
}

/// A JSON text without whitespace between tokens; strings untouched.
fn minify(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_whitespace() {
            out.push(c);
        }
    }
    out
}

#[test]
fn minify_keeps_strings_and_order() {
    assert_eq!(
        minify("{\n  \"a b\": \"x \\\" y\",\n \"c\" : [1, 2]\n}"),
        "{\"a b\":\"x \\\" y\",\"c\":[1,2]}"
    );
}

#[tokio::test]
async fn captchafun_seed_000_examples_round_trip_byte_for_byte() {
    let text = seed("000_");
    let url = cut(
        &text,
        "curl -X POST https://api.captcha.fun/v1/report/",
        " \\",
    )
    .trim_end_matches(" \\");
    let id = url.rsplit('/').next().unwrap();
    let key_header = cut(&text, "API_KEY: ", "\"").trim_end_matches('"');
    let (header_name, seed_key) = key_header.split_once(": ").unwrap();
    let success = cut(&text, "{\"message\": \"Report submitted", "}");
    let failure = cut(&text, "{\"message\": \"Invalid request", "}");
    assert!(seed_key.starts_with("CAPFUN-"));

    let app = TestApp::new().await;
    let reply = app
        .post(
            &format!("/v1/report/{id}"),
            &[(header_name, ALICE_KEY), ("Accept", "application/json")],
            "",
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.text(), success);

    let unknown = "00000000-0000-4000-8000-000000000000";
    let reply = app
        .post(
            &format!("/v1/report/{unknown}"),
            &[(header_name, ALICE_KEY), ("Accept", "application/json")],
            "",
        )
        .await;
    assert_eq!(reply.text(), failure);
}

#[tokio::test]
async fn decaptcha_seed_001_examples_round_trip() {
    let text = seed("001_");
    let request = cut(cut(&text, "Example Request", "}"), "{", "}");
    let success = cut(cut(&text, "Success Response (200 OK)", "}"), "{", "}");
    let failure = cut(cut(&text, "Error Response", "}"), "{", "}");
    assert!(
        request.contains("captchaGUID") && success.contains("isSuccess") && failure.contains("404")
    );

    let app = TestApp::new().await;
    let headers = [
        ("Content-Type", "application/json"),
        ("x-api-key", ALICE_KEY),
    ];
    let reply = app.post("/api/report", &headers, request.to_owned()).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.text(), minify(success));

    let unknown = request.replace(
        "7587c9c6-cf5f-4dc9-a382-a808a2d90dc8",
        "00000000-0000-4000-8000-000000000000",
    );
    let reply = app.post("/api/report", &headers, unknown).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.text(), minify(failure));
}

#[tokio::test]
async fn anticaptcha_seed_003_examples_round_trip() {
    let text = seed("003_");
    let request = cut(&text, "-X POST -d '", "}'")
        .trim_start_matches("-X POST -d '")
        .trim_end_matches('\'');
    let path = cut(&text, "https://api.anti-captcha.com/", "\n")
        .trim()
        .trim_start_matches("https://api.anti-captcha.com");
    let success = cut(cut(&text, "JSON без ошибок", "}"), "{", "}");
    let failure = cut(cut(&text, "JSON с ошибками", "}"), "{", "}");
    assert_eq!(path, "/reportIncorrectRecaptcha");

    let app = TestApp::new().await;
    let mine = request.replace("YOUR_API_KEY", ALICE_KEY);
    let reply = app
        .post(
            path,
            &[
                ("Accept", "application/json"),
                ("Content-Type", "application/json"),
            ],
            mine.clone(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.text(), minify(success));

    // The same request again with an id no task has.
    let unknown = mine.replace("12345", "99999");
    let reply = app
        .post(path, &[("Content-Type", "application/json")], unknown)
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.text(), minify(failure));
}

#[tokio::test]
async fn anticaptcha_seed_002_error_fields_match() {
    // The English seed is cut off: its error example has no braces and no request. Its three
    // error fields must still be exactly ours, in its order.
    let text = seed("002_");
    let fields = cut(&text, "\"errorId\": 16", "expired.\"");
    let app = TestApp::new().await;
    let body = format!("{{\"clientKey\":\"{ALICE_KEY}\",\"taskId\":99999}}");
    let reply = app
        .post(
            "/reportIncorrectRecaptcha",
            &[("Content-Type", "application/json")],
            body,
        )
        .await;
    assert_eq!(reply.text(), minify(&format!("{{{fields}}}")));
}

#[tokio::test]
async fn ucaptcha_seed_004_examples_round_trip() {
    let text = seed("004_");
    let bad = cut(&text, "Report a bad solution:", "}'");
    let good = cut(&text, "Report a good solution:", "}'");
    let body = |example: &str| {
        cut(example, "-d '", "}'")
            .trim_start_matches("-d '")
            .trim_end_matches('\'')
            .to_owned()
    };
    let success = cut(&text, "{\n\"errorId\": 0", "}");

    let app = TestApp::new().await;
    for example in [bad, good] {
        // Two tasks of the world: the seed's UUID for the bad one, an opaque id for the good one.
        let mut request = body(example).replace("YOUR_API_KEY", ALICE_KEY);
        if example == good {
            request = request.replace("550e8400-e29b-41d4-a716-446655440000", "task_abc123xyz789");
        }
        let reply = app
            .post(
                "/feedbackTask",
                &[("Content-Type", "application/json")],
                request,
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        assert_eq!(reply.text(), minify(success));
    }
}
