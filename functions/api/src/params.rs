//! Query-string parsing with field-level errors, and the cursor pagination every list
//! shares (its parameters, the partition check, the page it answers).
use std::collections::HashMap;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Query as QueryString};
use axum::http::request::Parts;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use vigil_shared::domain::FieldError;
use vigil_shared::ports::{Cursor, Query};
use vigil_shared::repo::page::{cursor_in_partition, decode_cursor, encode_cursor};

use crate::error::ApiError;

/// Collects every bad parameter before failing, so a client sees all of them at once.
pub struct Params {
    map: HashMap<String, String>,
    errors: Vec<FieldError>,
}

/// A handler takes its query string as `Params` (a query string axum cannot read at
/// all is its plain 400, as with `Query`).
impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = QueryRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let QueryString(map) = QueryString::from_request_parts(parts, state).await?;
        Ok(Self::new(map))
    }
}

/// Whether a bare date bounds a range from its start or to its end.
#[derive(Clone, Copy)]
pub enum DayEdge {
    Start,
    End,
}

impl Params {
    pub fn new(map: HashMap<String, String>) -> Self {
        Self {
            map,
            errors: Vec::new(),
        }
    }

    pub fn string(&mut self, name: &str) -> Option<String> {
        self.map
            .get(name)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    }

    pub fn number(&mut self, name: &str, min: usize, max: usize, default: usize) -> usize {
        match self.string(name) {
            None => default,
            Some(v) => match v.parse::<usize>() {
                Ok(n) if (min..=max).contains(&n) => n,
                _ => {
                    self.errors.push(FieldError::new(
                        name,
                        format!("must be a whole number from {min} to {max}"),
                    ));
                    default
                }
            },
        }
    }

    /// RFC 3339, a time without offset (UTC), or a date (its start or end).
    pub fn time(&mut self, name: &str, edge: DayEdge) -> Option<DateTime<Utc>> {
        let v = self.string(name)?;
        if let Ok(t) = DateTime::parse_from_rfc3339(&v) {
            return Some(t.to_utc());
        }
        if let Ok(t) = NaiveDateTime::parse_from_str(&v, "%Y-%m-%dT%H:%M:%S%.f") {
            return Some(t.and_utc());
        }
        if let Ok(d) = NaiveDate::parse_from_str(&v, "%Y-%m-%d") {
            let t = match edge {
                DayEdge::Start => d.and_hms_opt(0, 0, 0),
                DayEdge::End => d.and_hms_milli_opt(23, 59, 59, 999),
            };
            return t.map(|t| t.and_utc());
        }
        self.errors.push(FieldError::new(
            name,
            "must be an RFC 3339 date-time or a YYYY-MM-DD date",
        ));
        None
    }

    pub fn parsed<T>(
        &mut self,
        name: &str,
        parse: impl Fn(&str) -> Option<T>,
        expected: &str,
    ) -> Option<T> {
        let v = self.string(name)?;
        let out = parse(&v);
        if out.is_none() {
            self.errors
                .push(FieldError::new(name, format!("must be one of {expected}")));
        }
        out
    }

    /// `format`: Vigil's own JSON (the default) or OCSF documents.
    pub fn format(&mut self) -> Format {
        self.parsed(
            "format",
            |s| match s {
                "json" => Some(Format::Json),
                "ocsf" => Some(Format::Ocsf),
                _ => None,
            },
            "json, ocsf",
        )
        .unwrap_or(Format::Json)
    }

    pub fn cursor(&mut self, name: &str) -> Option<Cursor> {
        let v = self.string(name)?;
        match decode_cursor(&v) {
            Ok(c) => Some(c),
            Err(e) => {
                self.errors.push(FieldError::new(name, e.to_string()));
                None
            }
        }
    }

    /// A list's `limit` (1 to `max`, `default` when absent) and `cursor`.
    pub fn page(&mut self, max: usize, default: usize) -> (usize, Option<Cursor>) {
        let limit = self.number("limit", 1, max, default);
        (limit, self.cursor("cursor"))
    }

    /// [`Self::page`], then [`Self::finish`], then [`check_cursor`] against `query`.
    pub fn finish_page(
        mut self,
        max: usize,
        default: usize,
        query: &Query,
    ) -> Result<(usize, Option<Cursor>), ApiError> {
        let (limit, cursor) = self.page(max, default);
        self.finish()?;
        check_cursor(cursor.as_ref(), query)?;
        Ok((limit, cursor))
    }

    pub fn fail(&mut self, name: &str, message: impl Into<String>) {
        self.errors.push(FieldError::new(name, message));
    }

    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Invalid(self.errors))
        }
    }
}

/// What a read of findings or events answers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Vigil's own documents.
    Json,
    /// OCSF documents of the pinned version (`vigil_shared::ocsf`).
    Ocsf,
}

/// Refuses a cursor outside the partition `query` reads: a forged cursor must not move a
/// list to another tenant's keys.
pub fn check_cursor(cursor: Option<&Cursor>, query: &Query) -> Result<(), ApiError> {
    match cursor {
        Some(c) if !cursor_in_partition(c, query) => {
            Err(ApiError::field("cursor", "does not belong to this query"))
        }
        _ => Ok(()),
    }
}

/// One page of a list: its items, the limit when the list reports it, and the cursor of
/// the next page.
pub fn page_json(
    items: impl Serialize,
    limit: Option<usize>,
    next: Option<&Cursor>,
) -> Json<Value> {
    let mut page = json!({
        "items": items,
        "next_cursor": next.map(encode_cursor),
    });
    if let Some(limit) = limit {
        page["limit"] = json!(limit);
    }
    Json(page)
}
