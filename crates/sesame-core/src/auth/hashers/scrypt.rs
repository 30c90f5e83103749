//! `scrypt`: `scrypt$<N>$<salt>$<r>$<p>$<b64(dk)>`, a 64-byte key in padded base64.

use super::{HashError, PasswordHasher, check_salt};
use crate::crypto::constant_time_compare;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// Work factors above this are refused when verifying (2^20 × r=8 is already 1 GiB).
const MAX_LOG_N: u8 = 20;
const MAX_R_TIMES_P: u64 = 1 << 10;

/// scrypt with Django's defaults since 5.1: N=2^14, r=8, p=5.
#[derive(Debug, Clone)]
pub struct ScryptHasher {
    /// `work_factor` (N), a power of two.
    pub work_factor: u64,
    /// `block_size` (r).
    pub block_size: u32,
    /// `parallelism` (p).
    pub parallelism: u32,
}

impl Default for ScryptHasher {
    fn default() -> Self {
        Self {
            work_factor: 1 << 14,
            block_size: 8,
            parallelism: 5,
        }
    }
}

struct Decoded<'a> {
    n: u64,
    salt: &'a str,
    r: u32,
    p: u32,
}

fn decode(encoded: &str) -> Option<Decoded<'_>> {
    let mut parts = encoded.splitn(6, '$');
    if parts.next()? != "scrypt" {
        return None;
    }
    let n = parts.next()?.parse().ok()?;
    let salt = parts.next()?;
    let r = parts.next()?.parse().ok()?;
    let p = parts.next()?.parse().ok()?;
    parts.next()?;
    Some(Decoded { n, salt, r, p })
}

fn derive(password: &str, salt: &str, n: u64, r: u32, p: u32) -> Option<[u8; 64]> {
    if !n.is_power_of_two() || n < 2 || u64::from(r) * u64::from(p) > MAX_R_TIMES_P {
        return None;
    }
    let log_n = n.trailing_zeros() as u8;
    if log_n > MAX_LOG_N {
        return None;
    }
    let params = scrypt::Params::new(log_n, r, p, 64).ok()?;
    let mut out = [0u8; 64];
    scrypt::scrypt(password.as_bytes(), salt.as_bytes(), &params, &mut out).ok()?;
    Some(out)
}

impl PasswordHasher for ScryptHasher {
    fn algorithm(&self) -> &'static str {
        "scrypt"
    }

    fn encode(&self, password: &str, salt: &str) -> Result<String, HashError> {
        check_salt(salt)?;
        let (n, r, p) = (self.work_factor, self.block_size, self.parallelism);
        let dk = derive(password, salt, n, r, p)
            .ok_or_else(|| HashError::InvalidParameters(format!("scrypt N={n} r={r} p={p}")))?;
        Ok(format!("scrypt${n}${salt}${r}${p}${}", STANDARD.encode(dk)))
    }

    fn verify(&self, password: &str, encoded: &str) -> bool {
        let Some(d) = decode(encoded) else {
            return false;
        };
        derive(password, d.salt, d.n, d.r, d.p).is_some_and(|dk| {
            let recomputed = format!(
                "scrypt${}${}${}${}${}",
                d.n,
                d.salt,
                d.r,
                d.p,
                STANDARD.encode(dk)
            );
            constant_time_compare(recomputed, encoded)
        })
    }

    fn must_update(&self, encoded: &str) -> bool {
        decode(encoded).is_none_or(|d| {
            d.n != self.work_factor || d.r != self.block_size || d.p != self.parallelism
        })
    }
}
