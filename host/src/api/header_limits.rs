//! The request header limits, answered in the caller's format.
//!
//! hyper is configured to let larger header blocks through (up to
//! [`crate::server::connections::HEADER_BUFFER`] bytes and
//! [`crate::server::connections::MAX_HEADERS`] headers, past which it answers a
//! bare 431 itself) so that this layer can refuse them with a JSON body.

use axum::http::HeaderMap;

/// The most header bytes a request may send (names, values, and four bytes of
/// separators for each).
pub const MAX_HEADER_BYTES: usize = 64 << 10;
/// The most headers a request may send.
pub const MAX_HEADERS: usize = 100;

/// Whether `headers` are within both limits; else why not (answered with a
/// 431, [`ErrorKind::HeadersTooLarge`](super::error::ErrorKind)).
pub fn check(headers: &HeaderMap) -> Result<(), String> {
    if headers.len() > MAX_HEADERS {
        return Err(format!(
            "the request has {} headers; the limit is {MAX_HEADERS}",
            headers.len()
        ));
    }
    let bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if bytes > MAX_HEADER_BYTES {
        return Err(format!(
            "the request's headers are {bytes} bytes; the limit is {} KiB",
            MAX_HEADER_BYTES >> 10
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_headers_and_their_bytes() {
        let mut headers = HeaderMap::new();
        headers.insert("x-big", "a".repeat(MAX_HEADER_BYTES).parse().unwrap());
        assert!(check(&headers).unwrap_err().contains("the limit is 64 KiB"));
        let mut headers = HeaderMap::new();
        for i in 0..=MAX_HEADERS {
            headers.insert(
                axum::http::HeaderName::try_from(format!("x-h{i}")).unwrap(),
                "1".parse().unwrap(),
            );
        }
        assert!(check(&headers).unwrap_err().contains("101 headers"));
        headers.remove("x-h0");
        assert!(check(&headers).is_ok());
    }
}
