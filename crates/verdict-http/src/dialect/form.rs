//! Parameters of the form-style dialects (ASP.NET `.ashx` handlers, CGI scripts): the query
//! string and a form body, urlencoded or multipart, read as one list of `(name, value)` pairs.
//! Anything unreadable reads as no parameters, so the dialect answers "missing parameter" in its
//! own words. Lookups take the last value, so a form field wins over the query string.

use axum::http::{HeaderMap, header};
use bytes::Bytes;

/// The query string's pairs, then the body's.
#[derive(Default, Clone, PartialEq, Eq)]
pub struct Fields(Vec<(String, String)>);

/// Names only: the values include keys, passwords and tokens.
impl std::fmt::Debug for Fields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(name, _)| name))
            .finish()
    }
}

impl Fields {
    pub async fn read(query: Option<&str>, headers: &HeaderMap, body: Option<Bytes>) -> Fields {
        let mut pairs: Vec<(String, String)> = query
            .and_then(|q| serde_urlencoded::from_str(q).ok())
            .unwrap_or_default();
        if let Some(body) = body.filter(|b| !b.is_empty()) {
            let content_type = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if let Ok(boundary) = multer::parse_boundary(content_type) {
                pairs.extend(multipart(body, boundary).await);
            } else {
                pairs.extend(serde_urlencoded::from_bytes::<Vec<_>>(&body).unwrap_or_default());
            }
        }
        Fields(pairs)
    }

    /// The value of `name`, trimmed, if present and not blank.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }
}

impl From<Vec<(String, String)>> for Fields {
    fn from(pairs: Vec<(String, String)>) -> Self {
        Fields(pairs)
    }
}

async fn multipart(body: Bytes, boundary: String) -> Vec<(String, String)> {
    let stream = futures_util::stream::once(async move { Ok::<Bytes, std::io::Error>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut fields = Vec::new();
    while let Ok(Some(field)) = multipart.next_field().await {
        let name = field.name().unwrap_or_default().to_owned();
        if let Ok(text) = field.text().await {
            fields.push((name, text));
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_show_their_names_never_their_values() {
        let fields = Fields::from(vec![("token".to_owned(), "s3cret-value-123".to_owned())]);
        let shown = format!("{fields:?}");
        assert!(
            shown.contains("token") && !shown.contains("s3cret"),
            "{shown}"
        );
    }

    #[tokio::test]
    async fn the_form_wins_over_the_query_and_blank_is_absent() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            "application/x-www-form-urlencoded".parse().unwrap(),
        );
        let fields = Fields::read(
            Some("id=1&key=q&blank=x"),
            &headers,
            Some(Bytes::from_static(b"id=2&blank=%20")),
        )
        .await;
        assert_eq!(fields.get("id"), Some("2"));
        assert_eq!(fields.get("key"), Some("q"));
        assert_eq!(fields.get("blank"), None);
        assert_eq!(fields.get("none"), None);
    }

    #[tokio::test]
    async fn unreadable_bodies_read_as_no_fields() {
        // Bytes that are not UTF-8 read as replacement characters: a value no dialect accepts.
        let fields = Fields::read(
            None,
            &HeaderMap::new(),
            Some(Bytes::from_static(b"id=\xff1")),
        )
        .await;
        assert_eq!(fields.get("id"), Some("\u{fffd}1"));
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            "multipart/form-data; boundary=X".parse().unwrap(),
        );
        let fields = Fields::read(None, &headers, Some(Bytes::from_static(b"garbage"))).await;
        assert_eq!(fields, Fields::default());
    }
}
