//! A body read whole, chunk by chunk: a client's request ([`crate::api::read_body`])
//! or a provider's answer ([`crate::routing::attempt`]).
//!
//! A body that arrives in one chunk (most small ones) is kept as that chunk,
//! never copied; a longer one is copied once into a buffer sized for all of
//! it when its length was announced, so it does not grow by doubling (a
//! 32 KB body: four reallocations and their copies).

use bytes::{Bytes, BytesMut};

/// The most room made ahead of the bytes on the word of a `Content-Length`
/// (past it, the buffer grows as the bytes come): a sender that announces
/// more than it sends gets no more than this reserved.
const MAX_PRESIZE: usize = 4 << 20;

/// The chunks of one body so far.
#[derive(Debug, Default)]
pub struct BodyBytes {
    /// The first chunk, while it is the only one.
    first: Option<Bytes>,
    /// Every chunk, from the second on.
    joined: BytesMut,
    /// The length announced (`Content-Length`), to size `joined`; bounded by
    /// the caller's limit and [`MAX_PRESIZE`].
    expected: usize,
}

impl BodyBytes {
    /// An empty body that should come to `expected` bytes (0: unknown).
    pub fn expecting(expected: usize) -> Self {
        BodyBytes {
            expected: expected.min(MAX_PRESIZE),
            ..BodyBytes::default()
        }
    }

    /// Bytes so far.
    pub fn len(&self) -> usize {
        self.first.as_ref().map_or(self.joined.len(), Bytes::len)
    }

    /// Whether nothing came yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds the next chunk.
    pub fn push(&mut self, chunk: Bytes) {
        match self.first.take() {
            None if self.joined.is_empty() => self.first = Some(chunk),
            None => self.joined.extend_from_slice(&chunk),
            Some(first) => {
                let wanted = self.expected.max(first.len() + chunk.len());
                self.joined.reserve(wanted);
                self.joined.extend_from_slice(&first);
                self.joined.extend_from_slice(&chunk);
            }
        }
    }

    /// Forgets what came (the body is being drained, not kept).
    pub fn clear(&mut self) {
        self.first = None;
        self.joined.clear();
    }

    /// The body.
    pub fn finish(self) -> Bytes {
        match self.first {
            Some(first) => first,
            None => self.joined.freeze(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(chunks: &[&'static str], expected: usize) -> (Bytes, usize) {
        let mut body = BodyBytes::expecting(expected);
        for chunk in chunks {
            body.push(Bytes::from_static(chunk.as_bytes()));
        }
        let len = body.len();
        (body.finish(), len)
    }

    #[test]
    fn chunks_are_joined_in_order_whatever_was_announced() {
        for expected in [0, 3, 9, 1000] {
            assert_eq!(collect(&[], expected), (Bytes::new(), 0));
            assert_eq!(collect(&["abc"], expected), (Bytes::from("abc"), 3));
            assert_eq!(
                collect(&["ab", "", "cde", "f"], expected),
                (Bytes::from("abcdef"), 6)
            );
            assert_eq!(collect(&["", "x"], expected), (Bytes::from("x"), 1));
        }
    }

    #[test]
    fn one_chunk_is_kept_as_it_came() {
        let chunk = Bytes::from(vec![7u8; 100]);
        let mut body = BodyBytes::expecting(100);
        body.push(chunk.clone());
        assert_eq!(body.finish().as_ptr(), chunk.as_ptr());
    }

    #[test]
    fn a_longer_body_is_copied_once_into_room_for_all_of_it() {
        let mut body = BodyBytes::expecting(4096);
        body.push(Bytes::from(vec![1u8; 1024]));
        body.push(Bytes::from(vec![2u8; 1024]));
        let buffer = body.joined.as_ptr();
        body.push(Bytes::from(vec![3u8; 2048]));
        assert_eq!(body.joined.as_ptr(), buffer, "no reallocation");
        assert_eq!(body.len(), 4096);
    }

    #[test]
    fn a_cleared_body_starts_again() {
        let mut body = BodyBytes::default();
        body.push(Bytes::from_static(b"ab"));
        body.push(Bytes::from_static(b"cd"));
        body.clear();
        assert!(body.is_empty());
        body.push(Bytes::from_static(b"ef"));
        assert_eq!(body.finish(), Bytes::from_static(b"ef"));
    }
}
