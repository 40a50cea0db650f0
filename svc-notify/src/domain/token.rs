//! Stream tokens: what a browser puts in `?token=` because `EventSource` cannot send headers.
//!
//! A token is `tfs_<claims>.<signature>`: the claims (tenant, the API key it was exchanged for,
//! optionally one task, expiry) as base64url JSON, signed with HMAC-SHA256 under a secret every
//! svc-notify instance shares (kept in its database). Nothing is stored per token; a token dies
//! when it expires or when its key is revoked (checked on use). It is never an API key, so a URL
//! that leaks (history, proxy logs) grants minutes of read access to one tenant's feed at most.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use uuid::Uuid;

pub const TOKEN_PREFIX: &str = "tfs_";
/// Shortest and longest lifetime a client may ask for, in seconds.
pub const MIN_TTL_SECS: i64 = 10;
pub const MAX_TTL_SECS: i64 = 900;
pub const DEFAULT_TTL_SECS: i64 = 300;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    #[serde(rename = "t")]
    pub tenant_id: Uuid,
    #[serde(rename = "k")]
    pub key_id: Uuid,
    #[serde(rename = "task", default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<Uuid>,
    /// Unix seconds.
    #[serde(rename = "exp")]
    pub expires_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is not a stream token (tfs_...)")]
    Malformed,
    #[error("the token's signature does not match: it was altered or not issued here")]
    BadSignature,
    #[error("the token expired")]
    Expired,
}

fn mac(secret: &[u8], body: &str) -> Hmac<Sha256> {
    // HMAC takes keys of any length; this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
    mac.update(body.as_bytes());
    mac
}

pub fn sign(claims: &Claims, secret: &[u8]) -> String {
    let json = serde_json::to_vec(claims).unwrap_or_default();
    let body = format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(json));
    let signature = URL_SAFE_NO_PAD.encode(mac(secret, &body).finalize().into_bytes());
    format!("{body}.{signature}")
}

/// The claims of a genuine token that has not expired at `now` (Unix seconds).
pub fn verify(token: &str, secret: &[u8], now: i64) -> Result<Claims, TokenError> {
    let (body, signature) = token.rsplit_once('.').ok_or(TokenError::Malformed)?;
    let encoded = body
        .strip_prefix(TOKEN_PREFIX)
        .ok_or(TokenError::Malformed)?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| TokenError::Malformed)?;
    // Constant time: verify_slice compares without an early exit.
    mac(secret, body)
        .verify_slice(&signature)
        .map_err(|_| TokenError::BadSignature)?;
    let json = URL_SAFE_NO_PAD
        .decode(encoded)
        .map_err(|_| TokenError::Malformed)?;
    let claims: Claims = serde_json::from_slice(&json).map_err(|_| TokenError::Malformed)?;
    if claims.expires_at <= now {
        return Err(TokenError::Expired);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(expires_at: i64) -> Claims {
        Claims {
            tenant_id: Uuid::new_v4(),
            key_id: Uuid::new_v4(),
            task_id: Some(Uuid::new_v4()),
            expires_at,
        }
    }

    #[test]
    fn a_signed_token_verifies_until_it_expires() {
        let c = claims(1_000);
        let token = sign(&c, b"secret");
        assert!(token.starts_with(TOKEN_PREFIX));
        assert_eq!(verify(&token, b"secret", 999), Ok(c));
        assert_eq!(verify(&token, b"secret", 1_000), Err(TokenError::Expired));
    }

    #[test]
    fn altered_or_foreign_tokens_are_refused() {
        let token = sign(&claims(1_000), b"secret");
        assert_eq!(verify(&token, b"other", 0), Err(TokenError::BadSignature));
        let (body, signature) = token.rsplit_once('.').expect("two parts");
        let forged = sign(&claims(9_999), b"secret");
        let (forged_body, _) = forged.rsplit_once('.').expect("two parts");
        assert_eq!(
            verify(&format!("{forged_body}.{signature}"), b"secret", 0),
            Err(TokenError::BadSignature)
        );
        for junk in ["", "tfs_", "abc.def", &format!("{body}.!!"), "tfk_abc.def"] {
            assert!(verify(junk, b"secret", 0).is_err(), "{junk:?}");
        }
    }
}
