//! The credential of `Authorization: Bearer <token>` (RFC 6750), read the same way by every
//! service: the scheme name is case-insensitive (RFC 9110 section 11.1), any amount of spaces
//! or tabs may surround the token, and a header that is not visible ASCII, names another
//! scheme or carries no token is no credential at all. What a missing credential is answered
//! with (401, problem type) is each service's own.

use actix_web::HttpRequest;
use actix_web::http::header::AUTHORIZATION;

/// The token of the request's `Authorization: Bearer <token>` header, if it has one.
pub fn bearer(req: &HttpRequest) -> Option<&str> {
    bearer_token(req.headers().get(AUTHORIZATION)?.to_str().ok()?)
}

/// The token of an `Authorization` header value `value`.
pub fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once([' ', '\t'])?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::HeaderValue;
    use actix_web::test::TestRequest;

    use super::*;

    #[test]
    fn the_scheme_is_case_insensitive_and_whitespace_is_trimmed() {
        for header in [
            "Bearer abc",
            "bearer abc",
            "BEARER abc",
            "bEaReR   abc ",
            "Bearer\tabc",
            "  Bearer abc\t",
            "Bearer \t abc",
        ] {
            assert_eq!(bearer_token(header), Some("abc"), "{header:?}");
        }
    }

    #[test]
    fn another_scheme_or_no_token_is_no_credential() {
        for header in [
            "",
            "Basic abc",
            "Token abc",
            "Bearer",
            "Bearer  ",
            "Bearer\t",
            "Bearerabc",
            "abc",
            "Bearer: abc",
        ] {
            assert_eq!(bearer_token(header), None, "{header:?}");
        }
    }

    #[test]
    fn the_token_is_taken_whole() {
        assert_eq!(bearer_token("Bearer a b"), Some("a b"));
        assert_eq!(bearer_token("Bearer tfk_x/y+z=="), Some("tfk_x/y+z=="));
    }

    #[test]
    fn from_a_request() {
        let req = TestRequest::default()
            .insert_header((AUTHORIZATION, "bearer  tfk_123 "))
            .to_http_request();
        assert_eq!(bearer(&req), Some("tfk_123"));

        let missing = TestRequest::default().to_http_request();
        assert_eq!(bearer(&missing), None);

        let wrong_scheme = TestRequest::default()
            .insert_header((AUTHORIZATION, "Basic dXNlcjpwYXNz"))
            .to_http_request();
        assert_eq!(bearer(&wrong_scheme), None);
    }

    #[test]
    fn a_header_that_is_not_visible_ascii_is_no_credential() {
        let value = HeaderValue::from_bytes("Bearer tök".as_bytes()).expect("obs-text is allowed");
        let req = TestRequest::default()
            .insert_header((AUTHORIZATION, value))
            .to_http_request();
        assert_eq!(bearer(&req), None);
    }
}
