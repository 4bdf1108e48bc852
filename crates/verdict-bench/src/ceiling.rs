//! The ceiling: the same routes, extractors and answer sizes as verdict's, with nothing behind
//! them. What it serves per second on this machine, under the same load generator, is the most
//! any axum service could; verdict's rates are quoted as a share of it.

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::extract::{DefaultBodyLimit, Query};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
// Parsed so that the ceiling pays for reading the body as verdict does; never read after.
#[expect(dead_code, reason = "deserialised for its cost, not its values")]
struct ReportBody {
    client_key: String,
    task_id: u64,
}

async fn report_incorrect(Json(_body): Json<ReportBody>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"errorId":0,"status":"success"}"#,
    )
}

async fn res_php(Query(_params): Query<HashMap<String, String>>) -> &'static str {
    "OK_REPORT_RECORDED"
}

async fn ingest(body: Bytes) -> impl IntoResponse {
    let lines = body
        .split(|b| *b == b'\n')
        .filter(|line| !line.iter().all(u8::is_ascii_whitespace))
        .count();
    (
        [(header::CONTENT_TYPE, "application/json")],
        format!(r#"{{"inserted":{lines}}}"#),
    )
}

pub fn router() -> Router {
    Router::new()
        .route("/reportIncorrectImageCaptcha", post(report_incorrect))
        .route("/res.php", get(res_php))
        .route(
            "/v1/tasks",
            post(ingest).layer(DefaultBodyLimit::max(256 << 20)),
        )
        .route("/healthz", get(|| async { "ok" }))
}

pub async fn serve(listen: SocketAddr) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    axum::serve(listener, router()).await?;
    Ok(())
}
