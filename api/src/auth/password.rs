//! Password hashing: argon2id with m = 19456 KiB, t = 2, p = 1 (OWASP's recommendation).
//!
//! Verifying against an unknown user still runs one full argon2 verification against a fixed
//! dummy hash, so "no such user" and "wrong password" take the same time.

use std::sync::LazyLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

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
