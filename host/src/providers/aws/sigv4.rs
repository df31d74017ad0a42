//! SigV4 request signing with AWS's own signer (`aws-sigv4`): the headers
//! (`authorization`, `x-amz-date`, and `x-amz-security-token` for temporary
//! credentials) that sign one request for one region and service. The body
//! is hashed into the signature, so a request is signed after its body is
//! final (guardrails have run).

use super::credentials::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use std::time::SystemTime;

/// Signs requests to one AWS service in one region.
#[derive(Debug, Clone)]
pub struct Signer {
    /// Who signs.
    credentials: Credentials,
    /// The region, such as `us-east-1`.
    region: String,
    /// The service's signing name (`bedrock` for Bedrock's runtime).
    service: String,
}

/// Why a request could not be signed (a URL or header the signer rejects).
#[derive(Debug, thiserror::Error)]
#[error("the request to AWS could not be signed: {0}")]
pub struct SignError(String);

impl Signer {
    /// A signer for `service` in `region`.
    pub fn new(credentials: Credentials, region: &str, service: &str) -> Signer {
        Signer {
            credentials,
            region: region.into(),
            service: service.into(),
        }
    }

    /// The region requests are signed for.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The headers that sign a `method` request to `url` with `headers` and
    /// `body`, at `time`. The host is signed from the URL; `headers` should
    /// hold the others that go out (content type, accept).
    pub fn sign(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        time: SystemTime,
    ) -> Result<Vec<(&'static str, String)>, SignError> {
        let identity: Identity = aws_credential_types::Credentials::new(
            &self.credentials.access_key_id,
            self.credentials.secret_access_key.expose(),
            self.credentials
                .session_token
                .as_ref()
                .map(|token| token.expose().to_string()),
            None,
            "sluice",
        )
        .into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(&self.service)
            .time(time)
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| SignError(e.to_string()))?
            .into();
        let request = SignableRequest::new(
            method,
            url,
            headers.iter().copied(),
            SignableBody::Bytes(body),
        )
        .map_err(|e| SignError(e.to_string()))?;
        let (instructions, _signature) = sign(request, &params)
            .map_err(|e| SignError(e.to_string()))?
            .into_parts();
        let (headers, _params) = instructions.into_parts();
        Ok(headers
            .into_iter()
            .map(|header| (header.name(), header.value().to_string()))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    //! AWS's published SigV4 test suite (`aws-sig-v4-test-suite`, as shipped
    //! with `aws-sigv4` and reproduced in AWS's docs): the example
    //! credentials, region `us-east-1`, service `service`, at
    //! 2015-08-30T12:36:00Z.

    use super::*;
    use crate::secret::Secret;
    use std::time::{Duration, UNIX_EPOCH};

    /// 2015-08-30T12:36:00Z.
    fn suite_time() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_440_938_160)
    }

    fn suite_signer(token: Option<&str>) -> Signer {
        Signer::new(
            Credentials {
                access_key_id: "AKIDEXAMPLE".into(),
                secret_access_key: Secret::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
                session_token: token.map(Secret::new),
            },
            "us-east-1",
            "service",
        )
    }

    fn header<'a>(headers: &'a [(&'static str, String)], name: &str) -> Option<&'a str> {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The suite signs without the payload-hash header and without hashing
    /// the body into a header; `aws-sigv4` does the same by default.
    fn suite_case(method: &str, token: Option<&str>) -> Vec<(&'static str, String)> {
        suite_signer(token)
            .sign(
                method,
                "https://example.amazonaws.com/",
                &[("host", "example.amazonaws.com")],
                b"",
                suite_time(),
            )
            .expect("signed")
    }

    #[test]
    fn get_vanilla_matches_the_published_signature() {
        let headers = suite_case("GET", None);
        assert_eq!(header(&headers, "x-amz-date"), Some("20150830T123600Z"));
        assert_eq!(
            header(&headers, "authorization"),
            Some(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
                 SignedHeaders=host;x-amz-date, \
                 Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
            )
        );
    }

    #[test]
    fn post_vanilla_matches_the_published_signature() {
        let headers = suite_case("POST", None);
        assert_eq!(
            header(&headers, "authorization"),
            Some(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
                 SignedHeaders=host;x-amz-date, \
                 Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"
            )
        );
    }

    #[test]
    fn get_vanilla_with_session_token_signs_the_token() {
        let token = "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267";
        let headers = suite_case("GET", Some(token));
        assert_eq!(header(&headers, "x-amz-security-token"), Some(token));
        assert_eq!(
            header(&headers, "authorization"),
            Some(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
                 SignedHeaders=host;x-amz-date;x-amz-security-token, \
                 Signature=07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8"
            )
        );
    }

    #[test]
    fn the_body_and_the_model_in_the_path_are_signed() {
        let signer = suite_signer(None);
        let url =
            "https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-v2%3A1/invoke";
        let sign = |body: &[u8]| {
            let headers = signer
                .sign(
                    "POST",
                    url,
                    &[("content-type", "application/json")],
                    body,
                    suite_time(),
                )
                .expect("signed");
            header(&headers, "authorization").map(String::from)
        };
        assert_ne!(sign(b"{\"a\":1}"), sign(b"{\"a\":2}"), "the body is signed");
        let other = signer
            .sign(
                "POST",
                "https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-v2%3A2/invoke",
                &[("content-type", "application/json")],
                b"{\"a\":1}",
                suite_time(),
            )
            .expect("signed");
        assert_ne!(
            header(&other, "authorization").map(String::from),
            sign(b"{\"a\":1}"),
            "the path is signed"
        );
    }
}
