//! A provider call's body: bytes in one or more pieces, sent in turn.
//!
//! A client's body that goes upstream with only its model changed (and, for
//! a stream, usage asked for) is a few pieces ([`crate::api::splice`]): its
//! own bytes shared, not copied, around the new text; hyper writes them with
//! the request's head in one vectored write. A body the gateway wrote
//! itself is one piece. Providers that must read or sign a body whole
//! ([`UpstreamBody::into_vec`]) join its pieces.

use bytes::Bytes;
use hyper::body::{Frame, SizeHint};
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

/// The bytes of a provider call's body, in pieces.
#[derive(Debug, Clone, Default)]
pub struct UpstreamBody {
    /// The pieces, none empty; those before `next` have been sent.
    pieces: Vec<Bytes>,
    next: usize,
    /// The bytes of the pieces not sent yet.
    len: usize,
}

impl UpstreamBody {
    /// The body made of `pieces`, in order.
    pub fn from_pieces(mut pieces: Vec<Bytes>) -> Self {
        pieces.retain(|piece| !piece.is_empty());
        let len = pieces.iter().map(Bytes::len).sum();
        UpstreamBody {
            pieces,
            next: 0,
            len,
        }
    }

    /// The pieces not sent yet.
    fn rest(&self) -> &[Bytes] {
        &self.pieces[self.next..]
    }

    /// Its length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Its bytes in one piece (joined, when there are several).
    pub fn into_bytes(mut self) -> Bytes {
        match self.rest().len() {
            0 => Bytes::new(),
            1 => std::mem::take(&mut self.pieces[self.next]),
            _ => Bytes::from(self.into_vec()),
        }
    }

    /// Its bytes in one vector (joined, or taken back from a vector when it
    /// is one piece that was one).
    pub fn into_vec(mut self) -> Vec<u8> {
        if self.rest().len() == 1 {
            return Vec::from(std::mem::take(&mut self.pieces[self.next]));
        }
        let mut joined = Vec::with_capacity(self.len);
        for piece in self.rest() {
            joined.extend_from_slice(piece);
        }
        joined
    }
}

impl From<Vec<u8>> for UpstreamBody {
    fn from(bytes: Vec<u8>) -> Self {
        UpstreamBody::from_pieces(vec![Bytes::from(bytes)])
    }
}

impl From<Bytes> for UpstreamBody {
    fn from(bytes: Bytes) -> Self {
        UpstreamBody::from_pieces(vec![bytes])
    }
}

impl hyper::body::Body for UpstreamBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        let Some(piece) = this.pieces.get_mut(this.next) else {
            return Poll::Ready(None);
        };
        let piece = std::mem::take(piece);
        this.next += 1;
        this.len -= piece.len();
        Poll::Ready(Some(Ok(Frame::data(piece))))
    }

    fn is_end_stream(&self) -> bool {
        self.rest().is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.len as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn its_pieces_are_sent_in_turn_with_their_length_known() {
        let body = UpstreamBody::from_pieces(vec![
            Bytes::from_static(b"{\"model\":\"m\""),
            Bytes::new(),
            Bytes::from_static(b",\"n\":1}"),
        ]);
        assert_eq!(body.len(), 19);
        assert_eq!(hyper::body::Body::size_hint(&body).exact(), Some(19));
        assert_eq!(body.clone().into_vec(), b"{\"model\":\"m\",\"n\":1}");
        assert_eq!(&body.clone().into_bytes()[..], b"{\"model\":\"m\",\"n\":1}");
        let sent = body.collect().await.unwrap().to_bytes();
        assert_eq!(&sent[..], b"{\"model\":\"m\",\"n\":1}");
    }

    #[test]
    fn one_piece_is_handed_back_as_it_is() {
        let bytes = Bytes::from_static(b"{}");
        let pointer = bytes.as_ptr();
        assert_eq!(UpstreamBody::from(bytes).into_bytes().as_ptr(), pointer);
        assert!(UpstreamBody::from(Vec::new()).is_empty());
        assert!(UpstreamBody::default().into_vec().is_empty());
    }
}
