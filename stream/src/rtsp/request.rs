//! The RTSP request parser: `METHOD target RTSP/1.0\r\n`, headers, an empty line, and a body of
//! `Content-Length` bytes. Bounded in every dimension; incomplete input is reported as such so the
//! server can read more.

/// Largest header section accepted.
pub const MAX_HEAD_LEN: usize = 16 * 1024;
/// Largest body accepted.
pub const MAX_BODY_LEN: usize = 64 * 1024;
/// Most headers accepted.
pub const MAX_HEADERS: usize = 64;

/// Why a request was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RtspError {
    #[error("RTSP header section exceeds {MAX_HEAD_LEN} bytes")]
    HeadTooLong,
    #[error("RTSP body of {0} bytes exceeds {MAX_BODY_LEN}")]
    BodyTooLong(usize),
    #[error("RTSP request has more than {MAX_HEADERS} headers")]
    TooManyHeaders,
    #[error("RTSP request head is not UTF-8")]
    NotUtf8,
    #[error("malformed RTSP request line {0:?}")]
    BadRequestLine(String),
    #[error("malformed RTSP header line {0:?}")]
    BadHeader(String),
    #[error("bad Content-Length {0:?}")]
    BadContentLength(String),
}

/// A parsed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub target: String,
    pub version: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// `CSeq`, echoed in the reply.
    pub fn cseq(&self) -> Option<&str> {
        self.header("CSeq")
    }
}

/// The outcome of parsing a buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// A whole request and the bytes it used.
    Complete(Request, usize),
    /// More bytes are needed.
    Incomplete,
}

fn cut(s: &str) -> String {
    s.chars().take(80).collect()
}

/// Parses one request from the start of `buf`.
pub fn parse_request(buf: &[u8]) -> Result<Parsed, RtspError> {
    let Some(head_end) = find_head_end(buf) else {
        if buf.len() > MAX_HEAD_LEN {
            return Err(RtspError::HeadTooLong);
        }
        return Ok(Parsed::Incomplete);
    };
    let (head_len, sep_len) = head_end;
    if head_len > MAX_HEAD_LEN {
        return Err(RtspError::HeadTooLong);
    }
    let head = std::str::from_utf8(&buf[..head_len]).map_err(|_| RtspError::NotUtf8)?;
    let mut lines = head.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let first = lines.next().unwrap_or("");
    let mut parts = first.split(' ').filter(|p| !p.is_empty());
    let (Some(method), Some(target), Some(version), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(RtspError::BadRequestLine(cut(first)));
    };
    if !method.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') || !version.starts_with("RTSP/") {
        return Err(RtspError::BadRequestLine(cut(first)));
    }
    let mut headers = Vec::new();
    for line in lines {
        if line.is_empty() {
            continue;
        }
        if headers.len() >= MAX_HEADERS {
            return Err(RtspError::TooManyHeaders);
        }
        let Some((k, v)) = line.split_once(':') else { return Err(RtspError::BadHeader(cut(line))) };
        let k = k.trim();
        if k.is_empty() || !k.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(RtspError::BadHeader(cut(line)));
        }
        headers.push((k.to_owned(), v.trim().to_owned()));
    }
    let content_length = match headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("Content-Length")) {
        None => 0,
        Some((_, v)) => v.parse::<usize>().map_err(|_| RtspError::BadContentLength(cut(v)))?,
    };
    if content_length > MAX_BODY_LEN {
        return Err(RtspError::BodyTooLong(content_length));
    }
    let body_start = head_len + sep_len;
    if buf.len() < body_start + content_length {
        return Ok(Parsed::Incomplete);
    }
    let req = Request {
        method: method.to_owned(),
        target: target.to_owned(),
        version: version.to_owned(),
        headers,
        body: buf[body_start..body_start + content_length].to_vec(),
    };
    Ok(Parsed::Complete(req, body_start + content_length))
}

/// Finds the end of the header section: (length of the head, length of the blank-line separator).
fn find_head_end(buf: &[u8]) -> Option<(usize, usize)> {
    let limit = buf.len().min(MAX_HEAD_LEN + 4);
    let b = &buf[..limit];
    for i in 0..b.len() {
        if b[i..].starts_with(b"\r\n\r\n") {
            return Some((i, 4));
        }
        if b[i..].starts_with(b"\n\n") {
            return Some((i, 2));
        }
    }
    None
}

/// Builds a reply: status line, `CSeq`, extra headers, and the body with its `Content-Length`.
pub fn response(status: u16, reason: &str, cseq: Option<&str>, headers: &[(&str, String)], body: &[u8]) -> Vec<u8> {
    let mut s = format!("RTSP/1.0 {status} {reason}\r\n");
    if let Some(c) = cseq {
        s.push_str(&format!("CSeq: {c}\r\n"));
    }
    for (k, v) in headers {
        s.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() {
        s.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    s.push_str("\r\n");
    let mut out = s.into_bytes();
    out.extend_from_slice(body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_stock_announce_request() {
        let body = b"v=0\r\na=x:1 \r\n";
        let mut raw = format!(
            "ANNOUNCE streamid=control/13/0 RTSP/1.0\r\nCSeq: 6\r\nX-GS-ClientVersion: 14\r\nHost: 0.0.0.0\r\n\
Session: DEADBEEF\r\nContent-type: application/sdp\r\nContent-length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        raw.extend_from_slice(body);
        let Parsed::Complete(r, used) = parse_request(&raw).unwrap() else { panic!("incomplete") };
        assert_eq!(used, raw.len());
        assert_eq!((r.method.as_str(), r.target.as_str()), ("ANNOUNCE", "streamid=control/13/0"));
        assert_eq!(r.cseq(), Some("6"));
        assert_eq!(r.header("session"), Some("DEADBEEF"));
        assert_eq!(r.body, body);
        assert_eq!(parse_request(&raw[..raw.len() - 1]).unwrap(), Parsed::Incomplete);
        assert_eq!(parse_request(&raw[..20]).unwrap(), Parsed::Incomplete);
    }

    #[test]
    fn rejects_garbage() {
        assert!(matches!(parse_request(b"hello\r\n\r\n"), Err(RtspError::BadRequestLine(_))));
        assert!(matches!(parse_request(b"OPTIONS x RTSP/1.0\r\nnocolon\r\n\r\n"), Err(RtspError::BadHeader(_))));
        assert!(matches!(
            parse_request(b"OPTIONS x RTSP/1.0\r\nContent-Length: -1\r\n\r\n"),
            Err(RtspError::BadContentLength(_))
        ));
        assert!(matches!(
            parse_request(b"OPTIONS x RTSP/1.0\r\nContent-Length: 99999999\r\n\r\n"),
            Err(RtspError::BodyTooLong(_))
        ));
        assert_eq!(parse_request(&vec![b'A'; MAX_HEAD_LEN + 10]), Err(RtspError::HeadTooLong));
    }

    #[test]
    fn builds_replies() {
        let r = response(200, "OK", Some("3"), &[("Session", "1".into())], b"");
        assert_eq!(r, b"RTSP/1.0 200 OK\r\nCSeq: 3\r\nSession: 1\r\n\r\n");
    }
}
