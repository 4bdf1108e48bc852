//! `/openapi.json`: the native API described from its handlers (`#[utoipa::path]`) and the types
//! they read and return, so that the document cannot drift from the code. Clients authenticate
//! with `Authorization: Bearer …`: the operator's admin token, or an account's API key.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "verdict",
        description = "The solution-feedback system of a captcha-solving platform: its native API \
                       (SPEC §4). The wire dialects of the services it speaks (anti-captcha, \
                       2captcha, capsolver, …) are each that service's own API and are not \
                       described here.",
    ),
    modifiers(&BearerSchemes),
    tags(
        (name = "accounts", description = "Accounts, their standing and trust"),
        (name = "keys", description = "API keys over their life"),
        (name = "tasks", description = "Task ingest and each task's story"),
        (name = "reports", description = "Reports and their verdicts"),
        (name = "scores", description = "Reliability scores and routing"),
        (name = "rechecks", description = "Second solves of image and audio reports"),
        (name = "corrections", description = "The corrections dataset: training labels"),
        (name = "health", description = "Probes"),
    ),
)]
pub struct ApiDoc;

/// The two bearer credentials: which routes take which is each path's `security`.
struct BearerSchemes;

impl Modify for BearerSchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "admin_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("The operator's admin token (VERDICT_ADMIN_TOKEN)"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An account's API key: the account's own things only"))
                    .build(),
            ),
        );
    }
}
