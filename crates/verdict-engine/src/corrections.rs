//! The corrections dataset read as a sequence of pages: an export holds one page at a time,
//! however many rows the dataset has, and asks for the next only when it has sent the last.

use std::sync::Arc;
use std::time::Duration;

use verdict_domain::corrections::Correction;
use verdict_domain::{CaptchaType, Timestamp};
use verdict_store::{CorrectionQuery, Store};

use crate::{Engine, EngineError};

/// Rows a page of the dataset holds. A row is usually a few hundred bytes and never more than
/// an answer (`MAX_ANSWER_LEN`) and three texts of `MAX_CORRECTION_LEN` (the correction and two
/// solves), so a page has a bound however large the dataset.
pub const CORRECTIONS_PAGE: u32 = 500;

/// Which corrections to export.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CorrectionFilter {
    /// Reports received at or after.
    pub since: Option<Timestamp>,
    /// Reports received before; none: up to the moment the export started, that millisecond
    /// included, so that an export ends even while reports keep arriving.
    pub until: Option<Timestamp>,
    pub captcha_type: Option<CaptchaType>,
}

/// The dataset's rows, oldest first, page after page.
#[derive(Debug)]
pub struct CorrectionPages {
    store: Arc<dyn Store>,
    /// The next page to read; none once the last was read.
    next: Option<CorrectionQuery>,
}

impl CorrectionPages {
    /// The next page, or none after the last. A page never comes back empty.
    pub async fn next_page(&mut self) -> Result<Option<Vec<Correction>>, EngineError> {
        let Some(query) = self.next.take() else {
            return Ok(None);
        };
        let page = self.store.corrections(&query).await?;
        if page.len() == query.limit as usize
            && let Some(last) = page.last()
        {
            self.next = Some(CorrectionQuery {
                after: Some((last.reported_at, last.task.clone())),
                ..query
            });
        }
        Ok((!page.is_empty()).then_some(page))
    }
}

impl Engine {
    /// The corrections dataset matching `filter`, to be read page by page.
    pub fn corrections(&self, filter: CorrectionFilter) -> CorrectionPages {
        self.corrections_in_pages_of(filter, CORRECTIONS_PAGE)
    }

    /// As [`Engine::corrections`], in pages of `limit` rows (at least one).
    pub fn corrections_in_pages_of(&self, filter: CorrectionFilter, limit: u32) -> CorrectionPages {
        CorrectionPages {
            store: self.parts.store.clone(),
            next: Some(CorrectionQuery {
                since: filter.since,
                // `until` excludes its millisecond; a report received in the one the export
                // started in was received before it.
                until: Some(
                    filter
                        .until
                        .unwrap_or_else(|| self.now().saturating_add(Duration::from_millis(1))),
                ),
                captcha_type: filter.captcha_type,
                after: None,
                limit: limit.max(1),
            }),
        }
    }
}
