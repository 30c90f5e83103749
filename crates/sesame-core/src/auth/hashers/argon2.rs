//! `argon2`: Django's `Argon2PasswordHasher`, argon2id through the RustCrypto `argon2` crate.
//!
//! The stored form is `argon2` followed by the argon2-cffi PHC string:
//! `argon2$argon2id$v=19$m=102400,t=2,p=8$<b64 salt>$<b64 hash>`, standard base64 without
//! padding. The salt bytes are the ASCII text of Django's 22-character salt.

use super::{HashError, PasswordHasher, check_salt, must_update_salt};
use crate::crypto::constant_time_compare;
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use base64::engine::{GeneralPurpose, GeneralPurposeConfig, general_purpose::STANDARD_NO_PAD};

// Python's decoder ignores non-zero trailing bits; so does this one.
const LENIENT_B64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

/// Memory above this (in KiB, 1 GiB) is refused when verifying, so that a hostile stored
/// hash cannot exhaust memory.
const MAX_MEMORY_KIB: u32 = 1 << 20;
const MAX_TIME_COST: u32 = 64;
const MAX_PARALLELISM: u32 = 64;

/// Argon2 with Django's parameters (argon2id, m=102400 KiB, t=2, p=8, 32-byte hash).
#[derive(Debug, Clone)]
pub struct Argon2Hasher {
    /// `memory_cost` in KiB.
    pub memory_cost: u32,
    /// `time_cost`.
    pub time_cost: u32,
    /// `parallelism`.
    pub parallelism: u32,
}

impl Default for Argon2Hasher {
    fn default() -> Self {
        Self {
            memory_cost: 102_400,
            time_cost: 2,
            parallelism: 8,
        }
    }
}

struct Decoded {
    algorithm: Algorithm,
    version: Version,
    m: u32,
    t: u32,
    p: u32,
    salt: Vec<u8>,
    hash: Vec<u8>,
}

fn decode(encoded: &str) -> Option<Decoded> {
    let rest = encoded.strip_prefix("argon2$")?;
    let mut parts = rest.split('$');
    let algorithm = match parts.next()? {
        "argon2id" => Algorithm::Argon2id,
        "argon2i" => Algorithm::Argon2i,
        "argon2d" => Algorithm::Argon2d,
        _ => return None,
    };
    let mut field = parts.next()?;
    // Hashes from before argon2 1.3 have no `v=` field and use version 0x10.
    let version = match field.strip_prefix("v=") {
        Some(v) => {
            let version = match v {
                "19" => Version::V0x13,
                "16" => Version::V0x10,
                _ => return None,
            };
            field = parts.next()?;
            version
        }
        None => Version::V0x10,
    };
    let (mut m, mut t, mut p) = (None, None, None);
    for kv in field.split(',') {
        let (k, v) = kv.split_once('=')?;
        let v: u32 = v.parse().ok()?;
        match k {
            "m" => m = Some(v),
            "t" => t = Some(v),
            "p" => p = Some(v),
            _ => return None,
        }
    }
    let salt = LENIENT_B64.decode(parts.next()?).ok()?;
    let hash = LENIENT_B64.decode(parts.next()?).ok()?;
    if parts.next().is_some() {
        return None;
    }
    Some(Decoded {
        algorithm,
        version,
        m: m?,
        t: t?,
        p: p?,
        salt,
        hash,
    })
}

fn raw_hash(d: &Decoded, password: &str) -> Option<Vec<u8>> {
    if d.m > MAX_MEMORY_KIB || d.t > MAX_TIME_COST || d.p > MAX_PARALLELISM {
        return None;
    }
    let params = Params::new(d.m, d.t, d.p, Some(d.hash.len())).ok()?;
    let mut out = vec![0u8; d.hash.len()];
    Argon2::new(d.algorithm, d.version, params)
        .hash_password_into(password.as_bytes(), &d.salt, &mut out)
        .ok()?;
    Some(out)
}

impl PasswordHasher for Argon2Hasher {
    fn algorithm(&self) -> &'static str {
        "argon2"
    }

    fn encode(&self, password: &str, salt: &str) -> Result<String, HashError> {
        check_salt(salt)?;
        let params = Params::new(self.memory_cost, self.time_cost, self.parallelism, Some(32))
            .map_err(|e| HashError::InvalidParameters(e.to_string()))?;
        let mut out = [0u8; 32];
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_into(password.as_bytes(), salt.as_bytes(), &mut out)
            .map_err(|e| HashError::InvalidParameters(e.to_string()))?;
        Ok(format!(
            "argon2$argon2id$v=19$m={},t={},p={}${}${}",
            self.memory_cost,
            self.time_cost,
            self.parallelism,
            STANDARD_NO_PAD.encode(salt.as_bytes()),
            STANDARD_NO_PAD.encode(out)
        ))
    }

    fn verify(&self, password: &str, encoded: &str) -> bool {
        decode(encoded)
            .and_then(|d| raw_hash(&d, password).map(|h| constant_time_compare(h, &d.hash)))
            .unwrap_or(false)
    }

    fn must_update(&self, encoded: &str) -> bool {
        let Some(d) = decode(encoded) else {
            return true;
        };
        let salt_text = String::from_utf8_lossy(&d.salt);
        d.algorithm != Algorithm::Argon2id
            || d.version != Version::V0x13
            || d.m != self.memory_cost
            || d.t != self.time_cost
            || d.p != self.parallelism
            || d.hash.len() != 32
            || must_update_salt(&salt_text)
    }
}
