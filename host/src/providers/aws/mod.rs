//! What calling Amazon Bedrock takes from AWS, with AWS's own crates: the
//! [`credentials`] a request is signed with, [`sigv4`] request signing
//! (`aws-sigv4`), and the binary [`eventstream`] framing Bedrock streams come
//! in (`aws-smithy-eventstream`), turned into the SSE events the codecs read.

pub mod credentials;
pub mod eventstream;
pub mod sigv4;
