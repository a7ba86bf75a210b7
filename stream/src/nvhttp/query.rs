//! The nvhttp query-string parser: `key=value&...` with `%XX` and `+` decoding, bounded in size and count.
//!
//! Clients put every argument of every GameStream request in the query (`/pair?...&salt=..&clientcert=..`),
//! so this is the first parser network bytes reach.

use std::borrow::Cow;
use std::str::FromStr;

/// Longest query accepted (a client certificate in hex is about 2.5 KiB).
pub const MAX_QUERY_LEN: usize = 16 * 1024;
/// Most parameters accepted.
pub const MAX_PARAMS: usize = 64;

/// Why a query (or one of its values) was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum QueryError {
    #[error("query of {0} bytes exceeds the {MAX_QUERY_LEN}-byte limit")]
    TooLong(usize),
    #[error("query has more than {MAX_PARAMS} parameters")]
    TooManyParams,
    #[error("bad percent escape in the query")]
    BadEscape,
    #[error("query is not UTF-8 after decoding")]
    NotUtf8,
    #[error("query parameter {0} is missing")]
    Missing(String),
    #[error("query parameter {name} has an invalid value {value:?}")]
    Invalid { name: String, value: String },
}

impl QueryError {
    /// An invalid-value error (the value is cut to 64 characters for logs).
    pub fn invalid(name: &str, value: &str) -> Self {
        QueryError::Invalid { name: name.to_owned(), value: value.chars().take(64).collect() }
    }
}

/// A parsed query: decoded `(key, value)` pairs in order.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Query<'a> {
    pairs: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

impl<'a> Query<'a> {
    /// The first value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_ref())
    }

    /// The first value of `key`, or [`QueryError::Missing`].
    pub fn required(&self, key: &str) -> Result<&str, QueryError> {
        self.get(key).ok_or_else(|| QueryError::Missing(key.to_owned()))
    }

    /// `key` parsed as `T`; missing is an error.
    pub fn parse_required<T: FromStr>(&self, key: &str) -> Result<T, QueryError> {
        let v = self.required(key)?;
        v.trim().parse().map_err(|_| QueryError::invalid(key, v))
    }

    /// `key` parsed as `T`, or `default` when absent.
    pub fn parse_or<T: FromStr>(&self, key: &str, default: T) -> Result<T, QueryError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v.trim().parse().map_err(|_| QueryError::invalid(key, v)),
        }
    }

    /// `key` as hex bytes; missing or malformed is an error.
    pub fn hex(&self, key: &str) -> Result<Vec<u8>, QueryError> {
        let v = self.required(key)?;
        hex::decode(v.trim()).map_err(|_| QueryError::invalid(key, v))
    }

    /// Number of parameters.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Whether there are no parameters.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
}

/// Parses a raw query string (without the leading `?`).
pub fn parse_query(raw: &str) -> Result<Query<'_>, QueryError> {
    if raw.len() > MAX_QUERY_LEN {
        return Err(QueryError::TooLong(raw.len()));
    }
    let mut pairs = Vec::new();
    for part in raw.split('&') {
        if part.is_empty() {
            continue;
        }
        if pairs.len() >= MAX_PARAMS {
            return Err(QueryError::TooManyParams);
        }
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        pairs.push((decode(k)?, decode(v)?));
    }
    Ok(Query { pairs })
}

/// Parses a query from raw bytes (as they came off the wire).
pub fn parse_query_bytes(raw: &[u8]) -> Result<Query<'_>, QueryError> {
    let s = std::str::from_utf8(raw).map_err(|_| QueryError::NotUtf8)?;
    parse_query(s)
}

fn decode(s: &str) -> Result<Cow<'_, str>, QueryError> {
    if !s.bytes().any(|b| b == b'%' || b == b'+') {
        return Ok(Cow::Borrowed(s));
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hi = b.get(i + 1).and_then(|c| (*c as char).to_digit(16)).ok_or(QueryError::BadEscape)?;
                let lo = b.get(i + 2).and_then(|c| (*c as char).to_digit(16)).ok_or(QueryError::BadEscape)?;
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map(Cow::Owned).map_err(|_| QueryError::NotUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_pairs() {
        let q = parse_query("uniqueid=0123&devicename=my+pc&x=%41%42&flag&&empty=").unwrap();
        assert_eq!(q.get("uniqueid"), Some("0123"));
        assert_eq!(q.get("devicename"), Some("my pc"));
        assert_eq!(q.get("x"), Some("AB"));
        assert_eq!(q.get("flag"), Some(""));
        assert_eq!(q.get("empty"), Some(""));
        assert_eq!(q.len(), 5);
        assert_eq!(q.parse_required::<i32>("x"), Err(QueryError::invalid("x", "AB")));
        assert_eq!(q.parse_or("nope", 7u32), Ok(7));
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!(parse_query("a=%4"), Err(QueryError::BadEscape));
        assert_eq!(parse_query("a=%zz"), Err(QueryError::BadEscape));
        assert_eq!(parse_query("a=%ff"), Err(QueryError::NotUtf8));
        let many = vec!["a=1"; MAX_PARAMS + 1].join("&");
        assert_eq!(parse_query(&many), Err(QueryError::TooManyParams));
        assert!(matches!(parse_query(&"a".repeat(MAX_QUERY_LEN + 1)), Err(QueryError::TooLong(_))));
        assert_eq!(parse_query_bytes(&[b'a', b'=', 0xff]), Err(QueryError::NotUtf8));
    }
}
