//! Salted `md5`, and the verify-only formats old MongoDB-backed Django sites stored:
//! salted `sha1` (`sha1$salt$hex`), `unsalted_sha1` (`sha1$$hex`) and `unsalted_md5` (a bare
//! 32-hex digest, or `md5$$hex`). Django 5.1 removed the last three; Sesame keeps them so
//! that such users can log in once and be rehashed.

use super::{HashError, PasswordHasher, check_salt, must_update_salt};
use crate::crypto::constant_time_compare;
use md5::Md5;
use sha1::{Digest, Sha1};

fn hex_digest<D: Digest>(parts: &[&str]) -> String {
    let mut d = D::new();
    for p in parts {
        d.update(p.as_bytes());
    }
    hex::encode(d.finalize())
}

fn salted<'a>(encoded: &'a str, algorithm: &str) -> Option<(&'a str, &'a str)> {
    let mut parts = encoded.splitn(3, '$');
    if parts.next()? != algorithm {
        return None;
    }
    let salt = parts.next()?;
    let hash = parts.next()?;
    Some((salt, hash))
}

/// `md5$<salt>$<hex md5(salt + password)>` (Django's `MD5PasswordHasher`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Md5Hasher;

impl PasswordHasher for Md5Hasher {
    fn algorithm(&self) -> &'static str {
        "md5"
    }

    fn encode(&self, password: &str, salt: &str) -> Result<String, HashError> {
        check_salt(salt)?;
        Ok(format!(
            "md5${salt}${}",
            hex_digest::<Md5>(&[salt, password])
        ))
    }

    fn verify(&self, password: &str, encoded: &str) -> bool {
        salted(encoded, "md5").is_some_and(|(salt, _)| {
            check_salt(salt).is_ok()
                && constant_time_compare(
                    encoded,
                    format!("md5${salt}${}", hex_digest::<Md5>(&[salt, password])),
                )
        })
    }

    fn must_update(&self, encoded: &str) -> bool {
        salted(encoded, "md5").is_none_or(|(salt, _)| must_update_salt(salt))
    }
}

/// `sha1$<salt>$<hex sha1(salt + password)>`: verify only.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sha1Hasher;

impl PasswordHasher for Sha1Hasher {
    fn algorithm(&self) -> &'static str {
        "sha1"
    }

    fn encode(&self, _password: &str, _salt: &str) -> Result<String, HashError> {
        Err(HashError::VerifyOnly("sha1"))
    }

    fn verify(&self, password: &str, encoded: &str) -> bool {
        salted(encoded, "sha1").is_some_and(|(salt, _)| {
            !salt.is_empty()
                && constant_time_compare(
                    encoded,
                    format!("sha1${salt}${}", hex_digest::<Sha1>(&[salt, password])),
                )
        })
    }

    fn must_update(&self, _encoded: &str) -> bool {
        true
    }
}

/// `sha1$$<hex sha1(password)>`: verify only.
#[derive(Debug, Clone, Copy, Default)]
pub struct UnsaltedSha1Hasher;

impl PasswordHasher for UnsaltedSha1Hasher {
    fn algorithm(&self) -> &'static str {
        "unsalted_sha1"
    }

    fn encode(&self, _password: &str, _salt: &str) -> Result<String, HashError> {
        Err(HashError::VerifyOnly("unsalted_sha1"))
    }

    fn verify(&self, password: &str, encoded: &str) -> bool {
        encoded
            .strip_prefix("sha1$$")
            .is_some_and(|hash| constant_time_compare(hash, hex_digest::<Sha1>(&[password])))
    }

    fn must_update(&self, _encoded: &str) -> bool {
        true
    }
}

/// A bare 32-hex `md5(password)`, or `md5$$<hex>`: verify only.
#[derive(Debug, Clone, Copy, Default)]
pub struct UnsaltedMd5Hasher;

impl PasswordHasher for UnsaltedMd5Hasher {
    fn algorithm(&self) -> &'static str {
        "unsalted_md5"
    }

    fn encode(&self, _password: &str, _salt: &str) -> Result<String, HashError> {
        Err(HashError::VerifyOnly("unsalted_md5"))
    }

    fn verify(&self, password: &str, encoded: &str) -> bool {
        let hash = encoded.strip_prefix("md5$$").unwrap_or(encoded);
        hash.len() == 32
            && constant_time_compare(hash.to_ascii_lowercase(), hex_digest::<Md5>(&[password]))
    }

    fn must_update(&self, _encoded: &str) -> bool {
        true
    }
}
