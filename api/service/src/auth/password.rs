//! Password hashing: argon2id with m = 19456 KiB, t = 2, p = 1 (OWASP's recommendation).
//!
//! Verifying against an unknown user still runs one full argon2 verification against a fixed
//! dummy hash, so "no such user" and "wrong password" take the same time.
//!
//! The request paths use [`hash_off_executor`] and [`verify_off_executor`]: one argon2 run is
//! tens of milliseconds of CPU and 19 MiB of memory, and on an async worker thread it would stall
//! every other request sharing that thread (with two cores, half the server). They run it on
//! tokio's blocking pool instead. Callers hash *before* opening a write transaction, so the only
//! SQLite writer is never held while argon2 runs.

use std::sync::LazyLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::error::{ApiError, ApiResult};

fn argon2() -> Argon2<'static> {
    let params = Params::new(19_456, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

pub fn hash(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashing cannot fail with valid params")
        .to_string()
}

static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash("a password nobody has, to equalise timing"));

/// [`hash`] on tokio's blocking pool, for request paths.
pub async fn hash_off_executor(password: String) -> ApiResult<String> {
    tokio::task::spawn_blocking(move || hash(&password))
        .await
        .map_err(|e| ApiError::Internal(format!("password hashing did not finish: {e}")))
}

/// [`verify`] on tokio's blocking pool, for request paths.
pub async fn verify_off_executor(password: String, stored: Option<String>) -> ApiResult<bool> {
    tokio::task::spawn_blocking(move || verify(&password, stored.as_deref()))
        .await
        .map_err(|e| ApiError::Internal(format!("password verification did not finish: {e}")))
}

/// Verifies a password against a stored hash, or against the dummy when there is no user.
pub fn verify(password: &str, stored: Option<&str>) -> bool {
    let candidate = stored.unwrap_or(DUMMY_HASH.as_str());
    let ok = match PasswordHash::new(candidate) {
        Ok(parsed) => argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    };
    ok && stored.is_some()
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn off_executor_versions_agree_with_the_blocking_ones() {
        let h = super::hash_off_executor("correct horse battery".into())
            .await
            .unwrap();
        assert!(super::verify("correct horse battery", Some(&h)));
        assert!(
            super::verify_off_executor("correct horse battery".into(), Some(h.clone()))
                .await
                .unwrap()
        );
        assert!(
            !super::verify_off_executor("wrong".into(), Some(h))
                .await
                .unwrap()
        );
        assert!(
            !super::verify_off_executor("anything".into(), None)
                .await
                .unwrap()
        );
    }

    #[test]
    fn hashes_verify_and_unknown_users_never_match() {
        let h = super::hash("correct horse battery");
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(super::verify("correct horse battery", Some(&h)));
        assert!(!super::verify("wrong", Some(&h)));
        assert!(!super::verify(
            "a password nobody has, to equalise timing",
            None
        ));
    }
}
