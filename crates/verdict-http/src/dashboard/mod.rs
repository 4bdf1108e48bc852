//! The dashboard at `/`: server-rendered HTML for operators (the admin token) and clients
//! (their API key), compiled into the binary with its stylesheet and one small script. Handlers
//! read through the engine like the native API does, and a client sees nothing of any other
//! account: every page is built from what its own key opens.
//!
//! Signing in puts the token in an HttpOnly, SameSite=Strict cookie (Secure over TLS); every
//! page checks it again, so a revoked key or a disabled account ends its session at once.

mod charts;
mod pages;

use axum::Router;
use axum::extract::{Form, FromRequestParts, Path, RawQuery, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, LOCATION};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use serde::Deserialize;
use verdict_domain::{Account, AccountId, CaptchaType, KeyHash, TaskId};
use verdict_engine::{EngineError, Period, ReportQuery};

use crate::AppState;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "verdict_session";

/// How long a sign-in lasts.
const SESSION_SECONDS: i64 = 12 * 3600;

/// Reports a page lists at once.
const REPORTS_PER_PAGE: u32 = 50;

/// Ledger entries an account page lists (newest first).
const LEDGER_LISTED: usize = 100;

/// Draws the router's shares are estimated from.
const SHARE_DRAWS: u32 = 2_000;

/// The window of the providers' reliability chart for a period, and its points. Published
/// scores are kept in hour buckets, so a chart finer than hourly would only draw steps: the
/// hour's page charts the day.
fn history_window(period: Period) -> (Period, usize) {
    match period {
        Period::Hour | Period::Day => (Period::Day, 25),
        Period::Week => (Period::Week, 29),
    }
}

/// Put on every request by the listener that served it: whether it came over TLS, so that the
/// session cookie is marked Secure there.
#[derive(Debug, Clone, Copy)]
pub struct Transport {
    pub tls: bool,
}

/// Who is looking.
#[derive(Debug, Clone)]
enum Viewer {
    Operator,
    Client(Box<Account>),
    /// No session, or one whose token no longer opens anything (then `ended`).
    Anonymous {
        ended: bool,
    },
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Response> {
        let jar = CookieJar::from_headers(&parts.headers);
        let Some(token) = jar.get(SESSION_COOKIE).map(|c| c.value().to_owned()) else {
            return Ok(Viewer::Anonymous { ended: false });
        };
        open(app, &token).await
    }
}

/// The viewer a token makes: the operator, a client, or nobody.
async fn open(app: &AppState, token: &str) -> Result<Viewer, Response> {
    if KeyHash::unkeyed(token).matches(&app.admin) {
        return Ok(Viewer::Operator);
    }
    if let Err(throttle) = app.guard.admit_key(token) {
        return Err(throttle.respond(crate::native::DIALECT.throttled, None));
    }
    match app.authenticate(token).await {
        Ok(Some(account)) => Ok(Viewer::Client(Box::new(account))),
        Ok(None) => Ok(Viewer::Anonymous { ended: true }),
        Err(e) => Err(failure(&e)),
    }
}

/// The dashboard's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/dashboard/login", post(login))
        .route("/dashboard/logout", post(logout))
        .route("/dashboard/tasks", get(find_task))
        .route("/dashboard/tasks/{id}", get(task))
        .route("/dashboard/accounts/{id}", get(account))
        .route("/dashboard/assets/dashboard.css", get(stylesheet))
        .route("/dashboard/assets/dashboard.js", get(script))
}

/// What every page answers with: no caching (they show balances), no framing, nothing loaded
/// from anywhere but verdict itself.
fn page(status: StatusCode, body: maud::Markup) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    response
}

fn see_other(to: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(to) {
        response.headers_mut().insert(LOCATION, value);
    }
    response
}

/// The store failed: the page says so, without details (they are in the log).
fn failure(e: &EngineError) -> Response {
    if matches!(e, EngineError::NotFound) {
        return not_found("Not found", "Nothing is here.");
    }
    tracing::error!(error = %verdict_engine::chain(e), "dashboard page failed");
    page(
        StatusCode::SERVICE_UNAVAILABLE,
        pages::message(
            "Unavailable",
            "verdict could not read its database just now. Try again in a moment.",
        ),
    )
}

fn not_found(title: &str, text: &str) -> Response {
    page(StatusCode::NOT_FOUND, pages::message(title, text))
}

#[derive(Debug, Default, Deserialize)]
struct HomeQuery {
    period: Option<String>,
    #[serde(rename = "type")]
    captcha_type: Option<String>,
    /// A page of the client's reports: after this cursor.
    after: Option<String>,
}

/// A page's query string, or what is wrong with it.
fn query<T: serde::de::DeserializeOwned + Default>(
    raw: Option<String>,
) -> Result<T, serde_urlencoded::de::Error> {
    match raw {
        None => Ok(T::default()),
        Some(raw) => serde_urlencoded::from_str(&raw),
    }
}

/// The page saying a query string cannot be read.
fn unreadable_query(e: &serde_urlencoded::de::Error) -> Response {
    page(
        StatusCode::BAD_REQUEST,
        pages::message("Bad request", &format!("The address cannot be read: {e}.")),
    )
}

async fn home(
    State(app): State<AppState>,
    viewer: Result<Viewer, Response>,
    RawQuery(raw): RawQuery,
) -> Response {
    let viewer = match viewer {
        Ok(v) => v,
        Err(response) => return response,
    };
    let q: HomeQuery = match query(raw) {
        Ok(q) => q,
        Err(e) => return unreadable_query(&e),
    };
    let period = q
        .period
        .as_deref()
        .and_then(Period::parse)
        .unwrap_or_default();
    match viewer {
        Viewer::Anonymous { ended } => page(StatusCode::OK, pages::login(ended, None)),
        Viewer::Operator => {
            let only = q
                .captcha_type
                .as_deref()
                .and_then(|t| CaptchaType::parse(t).ok());
            match operator_view(&app, period, only).await {
                Ok(view) => page(StatusCode::OK, pages::operator(&view)),
                Err(e) => failure(&e),
            }
        }
        Viewer::Client(account) => {
            let after = q.after.as_deref().and_then(crate::native::decode_cursor);
            match account_view(&app, account.id, after).await {
                Ok(view) => page(StatusCode::OK, pages::client(&view)),
                Err(e) => failure(&e),
            }
        }
    }
}

/// What the operator's page shows.
pub(crate) struct OperatorView {
    pub overview: verdict_engine::Overview,
    pub recent: Vec<verdict_engine::TaskStory>,
    pub scores: Vec<verdict_engine::ProviderScore>,
    /// The type whose providers are charted, and every type with a score.
    pub charted: Option<CaptchaType>,
    pub types: Vec<CaptchaType>,
    pub history: Vec<verdict_engine::ScoreHistory>,
    /// The window `history` covers.
    pub history_period: Period,
    pub shares: Vec<(String, f64)>,
}

async fn operator_view(
    app: &AppState,
    period: Period,
    only: Option<CaptchaType>,
) -> Result<OperatorView, EngineError> {
    let engine = &app.engine;
    let overview = engine.overview(period).await?;
    let recent = engine
        .reports(ReportQuery {
            limit: 20,
            ..ReportQuery::default()
        })
        .await?;
    let scores = engine.provider_scores(None).await?;
    let mut types: Vec<CaptchaType> = scores.iter().map(|s| s.captcha_type).collect();
    types.dedup();
    // Unless asked for one, the type with the most reports behind its scores.
    let charted = only.filter(|t| types.contains(t)).or_else(|| {
        types.iter().copied().max_by_key(|t| {
            scores
                .iter()
                .filter(|s| s.captcha_type == *t)
                .map(|s| s.score.reports)
                .sum::<u64>()
        })
    });
    let (history_period, history_points) = history_window(period);
    let (history, shares) = match charted {
        Some(t) => {
            let history = engine
                .provider_history(Some(t), history_period.length(), history_points)
                .await?;
            let shares = match engine.router_shares(t, SHARE_DRAWS).await {
                Ok(shares) => shares,
                Err(EngineError::NotFound) => Vec::new(),
                Err(e) => return Err(e),
            };
            (history, shares)
        }
        None => (Vec::new(), Vec::new()),
    };
    Ok(OperatorView {
        overview,
        recent,
        scores,
        charted,
        types,
        history,
        history_period,
        shares,
    })
}

/// What a page about one account shows: to its client, or to the operator.
pub(crate) struct AccountPage {
    pub view: verdict_engine::AccountView,
    pub reports: Vec<verdict_engine::TaskStory>,
    /// The cursor of the next page of reports, when there is one.
    pub next: Option<String>,
    /// Newest first, at most [`LEDGER_LISTED`].
    pub ledger: Vec<verdict_domain::LedgerEntry>,
    pub ledger_entries: usize,
    pub now: verdict_domain::Timestamp,
}

async fn account_view(
    app: &AppState,
    id: AccountId,
    after: Option<(verdict_domain::Timestamp, TaskId)>,
) -> Result<AccountPage, EngineError> {
    let engine = &app.engine;
    let view = engine.account(id).await?;
    let reports = engine
        .reports(ReportQuery {
            account: Some(id),
            after,
            limit: REPORTS_PER_PAGE + 1,
            ..ReportQuery::default()
        })
        .await?;
    let next = (reports.len() > REPORTS_PER_PAGE as usize).then(|| {
        let last = &reports[REPORTS_PER_PAGE as usize - 1];
        let received = last
            .report
            .as_ref()
            .map_or(last.task.completed_at, |r| r.received_at);
        crate::native::encode_cursor(received, &last.task.id)
    });
    let reports = reports
        .into_iter()
        .take(REPORTS_PER_PAGE as usize)
        .collect();
    let mut ledger = engine.ledger(id).await?;
    let ledger_entries = ledger.len();
    ledger.reverse();
    ledger.truncate(LEDGER_LISTED);
    Ok(AccountPage {
        view,
        reports,
        next,
        ledger,
        ledger_entries,
        now: engine.now(),
    })
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
}

async fn login(
    State(app): State<AppState>,
    transport: Option<axum::Extension<Transport>>,
    jar: CookieJar,
    Form(form): Form<LoginForm>,
) -> Response {
    let token = form.token.trim();
    if token.is_empty() {
        return page(
            StatusCode::UNPROCESSABLE_ENTITY,
            pages::login(false, Some("Enter the admin token or an API key.")),
        );
    }
    match open(&app, token).await {
        Ok(Viewer::Anonymous { .. }) => page(
            StatusCode::UNAUTHORIZED,
            pages::login(
                false,
                Some("That is neither the admin token nor the API key of an enabled account."),
            ),
        ),
        Ok(_) => {
            let cookie = Cookie::build((SESSION_COOKIE, token.to_owned()))
                .path("/")
                .http_only(true)
                .same_site(SameSite::Strict)
                .secure(transport.is_some_and(|t| t.tls))
                .max_age(time::Duration::seconds(SESSION_SECONDS));
            (jar.add(cookie), see_other("/")).into_response()
        }
        Err(response) => response,
    }
}

async fn logout(jar: CookieJar) -> Response {
    (
        jar.remove(Cookie::build(SESSION_COOKIE).path("/")),
        see_other("/"),
    )
        .into_response()
}

#[derive(Default, Deserialize)]
struct FindTask {
    id: Option<String>,
}

/// The search box: to the task's page.
async fn find_task(RawQuery(raw): RawQuery) -> Response {
    let q: FindTask = match query(raw) {
        Ok(q) => q,
        Err(e) => return unreadable_query(&e),
    };
    let id = q.id.unwrap_or_default();
    let id = id.trim();
    if id.is_empty() {
        return see_other("/");
    }
    let encoded: String = url_path_segment(id);
    see_other(&format!("/dashboard/tasks/{encoded}"))
}

/// `text` as one URL path segment.
fn url_path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

async fn task(
    State(app): State<AppState>,
    viewer: Result<Viewer, Response>,
    Path(id): Path<String>,
) -> Response {
    let viewer = match viewer {
        Ok(Viewer::Anonymous { ended }) => {
            return page(StatusCode::UNAUTHORIZED, pages::login(ended, None));
        }
        Ok(v) => v,
        Err(response) => return response,
    };
    let missing = || {
        not_found(
            "No such task",
            &format!("No task {id} is among the tasks you can see."),
        )
    };
    let Ok(task_id) = TaskId::parse(&id) else {
        return missing();
    };
    let story = match app.engine.task_story(&task_id).await {
        Ok(Some(story)) => story,
        Ok(None) => return missing(),
        Err(e) => return failure(&e),
    };
    let operator = match &viewer {
        Viewer::Operator => true,
        // Another account's task is answered exactly like one that does not exist.
        Viewer::Client(own) if own.id == story.task.account => false,
        _ => return missing(),
    };
    page(StatusCode::OK, pages::task(&story, operator))
}

async fn account(
    State(app): State<AppState>,
    viewer: Result<Viewer, Response>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return not_found("No such account", "Account ids are numbers.");
    };
    let q: HomeQuery = match query(raw) {
        Ok(q) => q,
        Err(e) => return unreadable_query(&e),
    };
    match viewer {
        Ok(Viewer::Operator) => {}
        Ok(Viewer::Client(own)) if own.id == AccountId(id) => return see_other("/"),
        Ok(Viewer::Anonymous { ended }) => {
            return page(StatusCode::UNAUTHORIZED, pages::login(ended, None));
        }
        Ok(Viewer::Client(_)) => {
            return not_found("No such account", "There is nothing for you here.");
        }
        Err(response) => return response,
    }
    let after = q.after.as_deref().and_then(crate::native::decode_cursor);
    match account_view(&app, AccountId(id), after).await {
        Ok(view) => page(StatusCode::OK, pages::account(&view)),
        Err(EngineError::NotFound) => not_found("No such account", &format!("No account {id}.")),
        Err(e) => failure(&e),
    }
}

async fn stylesheet() -> Response {
    asset(
        "text/css; charset=utf-8",
        include_str!("assets/dashboard.css"),
    )
}

async fn script() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("assets/dashboard.js"),
    )
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_searched_id_is_one_path_segment() {
        assert_eq!(url_path_segment("abc-1.2_~"), "abc-1.2_~");
        assert_eq!(url_path_segment("a/b?c d"), "a%2Fb%3Fc%20d");
        assert_eq!(url_path_segment("é"), "%C3%A9");
    }
}
