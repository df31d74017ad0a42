//! What calling Google Cloud (Vertex AI) takes: an OAuth access token from a
//! service account's key, exchanged and kept by [`token::TokenSource`] from
//! the key file read by [`service_account`].

pub mod service_account;
pub mod token;
