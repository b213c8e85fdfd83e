//! Access tokens: JWTs signed with one pinned algorithm. HS256 with a shared secret of at least
//! 32 bytes, or EdDSA (Ed25519) key pairs. Every token carries a `kid`; verification accepts the
//! current key and any *previous* keys still configured, so keys rotate without logging everyone
//! out: add the new key as current, keep the old one as previous for one token lifetime, then
//! drop it. All registered claims are required. `nbf` and `iat` tolerate 30 s of clock skew
//! between instances; `exp` tolerates none, so a token stops working at the same moment on
//! every transport (a WebSocket closes then too).

use std::collections::HashMap;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, ApiResult};
use crate::principal::{Principal, Scope};

pub const ISSUER: &str = "cdtg";
pub const AUDIENCE: &str = "cdtg-api";
const ACCESS: &str = "access";
/// Clock skew tolerated between instances for `nbf` and `iat` (not for `exp`).
pub const LEEWAY_SECS: u64 = 30;
/// The shortest HS256 secret accepted.
pub const MIN_SECRET_BYTES: usize = 32;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: String,
    /// "unit:<id>" or "group:<id>": informational; the server re-reads the scope from the user.
    pub scope: String,
    pub iss: String,
    pub aud: String,
    pub exp: i64,
    pub nbf: i64,
    pub iat: i64,
    pub jti: String,
    /// Token type: only "access" tokens authenticate requests.
    pub typ: String,
    /// The session the token belongs to: a token of an ended session is refused.
    pub sid: String,
}

/// Where the signing and verification keys come from.
#[derive(Debug, Clone)]
pub enum KeyConfig {
    Hs256 {
        kid: String,
        secret: Vec<u8>,
        previous: Vec<(String, Vec<u8>)>,
    },
    EdDsa {
        kid: String,
        private_pem: Vec<u8>,
        public_pem: Vec<u8>,
        previous: Vec<(String, Vec<u8>)>,
    },
}

/// Signing key, verification keys by `kid`, and the pinned algorithm.
pub struct JwtKeys {
    algorithm: Algorithm,
    kid: String,
    encoding: EncodingKey,
    decoding: HashMap<String, DecodingKey>,
    pub access_ttl_secs: i64,
}

fn config_error(msg: impl Into<String>) -> String {
    msg.into()
}

impl JwtKeys {
    pub fn new(config: &KeyConfig, access_ttl_secs: i64) -> Result<Self, String> {
        match config {
            KeyConfig::Hs256 {
                kid,
                secret,
                previous,
            } => {
                for (k, s) in
                    std::iter::once((kid, secret)).chain(previous.iter().map(|(k, s)| (k, s)))
                {
                    if s.len() < MIN_SECRET_BYTES {
                        return Err(config_error(format!(
                            "JWT secret for key id {k:?} is {} bytes; at least {MIN_SECRET_BYTES} are required",
                            s.len()
                        )));
                    }
                }
                let mut decoding = HashMap::new();
                decoding.insert(kid.clone(), DecodingKey::from_secret(secret));
                for (k, s) in previous {
                    decoding.insert(k.clone(), DecodingKey::from_secret(s));
                }
                Ok(JwtKeys {
                    algorithm: Algorithm::HS256,
                    kid: kid.clone(),
                    encoding: EncodingKey::from_secret(secret),
                    decoding,
                    access_ttl_secs,
                })
            }
            KeyConfig::EdDsa {
                kid,
                private_pem,
                public_pem,
                previous,
            } => {
                let encoding = EncodingKey::from_ed_pem(private_pem)
                    .map_err(|e| format!("Ed25519 private key: {e}"))?;
                let mut decoding = HashMap::new();
                decoding.insert(
                    kid.clone(),
                    DecodingKey::from_ed_pem(public_pem)
                        .map_err(|e| format!("Ed25519 public key: {e}"))?,
                );
                for (k, pem) in previous {
                    decoding.insert(
                        k.clone(),
                        DecodingKey::from_ed_pem(pem)
                            .map_err(|e| format!("Ed25519 public key {k}: {e}"))?,
                    );
                }
                Ok(JwtKeys {
                    algorithm: Algorithm::EdDSA,
                    kid: kid.clone(),
                    encoding,
                    decoding,
                    access_ttl_secs,
                })
            }
        }
    }

    /// Issues an access token for a principal; returns the token and its expiry (unix seconds).
    pub fn issue_access(&self, p: &Principal) -> ApiResult<(String, i64)> {
        let sid = p
            .session_id()
            .ok_or_else(|| ApiError::Internal("an access token needs a session".into()))?
            .to_owned();
        let now = chrono::Utc::now().timestamp();
        let exp = now + self.access_ttl_secs;
        let scope = match &p.scope {
            Scope::Everything => "all".to_owned(),
            Scope::Unit { unit_id, .. } => format!("unit:{unit_id}"),
            Scope::Group { group_id, .. } => format!("group:{group_id}"),
        };
        let claims = Claims {
            sub: p.user_id.to_string(),
            role: p.role.as_str().to_owned(),
            scope,
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
            exp,
            nbf: now,
            iat: now,
            jti: uuid::Uuid::new_v4().to_string(),
            typ: ACCESS.to_owned(),
            sid,
        };
        self.sign(&claims).map(|t| (t, exp))
    }

    /// Signs arbitrary claims with the current key (tests use this to forge bad tokens).
    pub fn sign(&self, claims: &Claims) -> ApiResult<String> {
        self.sign_other(claims)
    }

    /// Verifies signature, algorithm, key id, issuer, audience, time claims and token type.
    /// The key a token names (by `kid`), if it is signed with our algorithm.
    fn key_for(&self, token: &str) -> Option<&DecodingKey> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        if header.alg != self.algorithm {
            return None;
        }
        header.kid.as_deref().and_then(|kid| self.decoding.get(kid))
    }

    /// Signs claims of another kind with the access-token key (signed download links). Their
    /// `typ` must differ from an access token's, and they lack its claims, so one can never
    /// pass for the other.
    pub fn sign_other<T: Serialize>(&self, claims: &T) -> ApiResult<String> {
        let mut header = Header::new(self.algorithm);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding)
            .map_err(|e| ApiError::Internal(format!("signing token: {e}")))
    }

    /// Verifies claims signed by [`JwtKeys::sign_other`]: key, algorithm, issuer, audience and
    /// expiry.
    pub fn verify_other<T: serde::de::DeserializeOwned>(&self, token: &str) -> ApiResult<T> {
        let invalid = ApiError::Unauthenticated("invalid or expired link");
        let key = self.key_for(token).ok_or_else(|| invalid.clone())?;
        let mut validation = Validation::new(self.algorithm);
        validation.leeway = 0;
        validation.validate_exp = true;
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        jsonwebtoken::decode::<T>(token, key, &validation)
            .map(|d| d.claims)
            .map_err(|_| invalid)
    }

    pub fn verify_access(&self, token: &str) -> ApiResult<Claims> {
        let invalid = ApiError::Unauthenticated("invalid or expired token");
        let key = self.key_for(token).ok_or_else(|| invalid.clone())?;
        let mut validation = Validation::new(self.algorithm);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        // Expiry is checked below without the leeway.
        validation.validate_exp = false;
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub", "jti"]);
        let data =
            jsonwebtoken::decode::<Claims>(token, key, &validation).map_err(|_| invalid.clone())?;
        if data.claims.typ != ACCESS || data.claims.exp <= chrono::Utc::now().timestamp() {
            return Err(invalid);
        }
        Ok(data.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cdtg_core::policy::Role;

    // A throwaway Ed25519 key pair made for these tests only; it protects nothing.
    const TEST_ED_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIIQ4xi+pzMOZzd4yEht2SspfLT9zue5S6dT9HfHfJWaL\n-----END PRIVATE KEY-----\n";
    const TEST_ED_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAhRv+Rbhzcb0Q8c+oeKuIwah2m5OrwZXFCiWp3tCc8zk=\n-----END PUBLIC KEY-----\n";

    fn principal() -> Principal {
        Principal {
            user_id: 7,
            username: "u".into(),
            role: Role::WardLeader,
            scope: Scope::Unit {
                unit_id: 3,
                path: "/1/3/".into(),
                whole_tree: false,
            },
            member_id: None,
            request_id: None,
            denials: None,
            credential: crate::principal::Credential::Session {
                id: "4f2c0c5e-0000-4000-8000-000000000001".into(),
            },
            must_change_password: false,
        }
    }

    fn hs(kid: &str, secret: &str, previous: Vec<(&str, &str)>) -> JwtKeys {
        let previous = previous
            .into_iter()
            .map(|(k, s)| (k.to_owned(), s.as_bytes().to_vec()))
            .collect();
        JwtKeys::new(
            &KeyConfig::Hs256 {
                kid: kid.into(),
                secret: secret.as_bytes().to_vec(),
                previous,
            },
            900,
        )
        .unwrap()
    }

    const S1: &str = "0123456789abcdef0123456789abcdef-one";
    const S2: &str = "0123456789abcdef0123456789abcdef-two";

    #[test]
    fn refuses_short_secrets() {
        let short = KeyConfig::Hs256 {
            kid: "k".into(),
            secret: b"too short".to_vec(),
            previous: vec![],
        };
        assert!(JwtKeys::new(&short, 900).is_err());
    }

    #[test]
    fn rotation_keeps_previous_key_verifying_and_unknown_kid_fails() {
        let old = hs("k1", S1, vec![]);
        let token = old.issue_access(&principal()).unwrap().0;
        let rotated = hs("k2", S2, vec![("k1", S1)]);
        assert_eq!(rotated.verify_access(&token).unwrap().sub, "7");
        let dropped = hs("k2", S2, vec![]);
        assert!(dropped.verify_access(&token).is_err());
    }

    #[test]
    fn eddsa_signs_and_verifies_and_rejects_hs256_tokens() {
        let ed = JwtKeys::new(
            &KeyConfig::EdDsa {
                kid: "ed1".into(),
                private_pem: TEST_ED_PRIVATE.as_bytes().to_vec(),
                public_pem: TEST_ED_PUBLIC.as_bytes().to_vec(),
                previous: vec![],
            },
            900,
        )
        .unwrap();
        let token = ed.issue_access(&principal()).unwrap().0;
        assert_eq!(ed.verify_access(&token).unwrap().role, "WARD_LEADER");
        let hs_token = hs("ed1", S1, vec![]).issue_access(&principal()).unwrap().0;
        assert!(ed.verify_access(&hs_token).is_err(), "algorithm is pinned");
    }
}
