//! `bcrypt_sha256` and `bcrypt`.
//!
//! `bcrypt_sha256` pre-hashes the password with SHA-256 (as 64 lower-case hex bytes), so long
//! passwords are not truncated. Plain `bcrypt` refuses passwords over 72 bytes with an error,
//! as Django with bcrypt ≥ 5 does, rather than truncating them silently.

use super::{HashError, PasswordHasher};
use crate::crypto::constant_time_compare;
use base64::Engine;
use base64::engine::{GeneralPurpose, GeneralPurposeConfig};
use sha2::{Digest, Sha256};

const BCRYPT_B64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::BCRYPT,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::RequireNone),
);

/// Django's default work factor.
pub(crate) const DEFAULT_ROUNDS: u32 = 12;

/// A parsed MCF salt: `$2b$12$` and 22 characters.
struct McfSalt {
    version: &'static str,
    cost: u32,
    salt: [u8; 16],
}

fn parse_salt(text: &str) -> Option<McfSalt> {
    let rest = text.strip_prefix('$')?;
    let (version, rest) = rest.split_once('$')?;
    let version = match version {
        "2a" => "2a",
        "2b" => "2b",
        "2y" => "2y",
        "2x" => "2x",
        _ => return None,
    };
    let (cost, rest) = rest.split_once('$')?;
    if cost.len() != 2 {
        return None;
    }
    let cost: u32 = cost.parse().ok()?;
    let salt_text = rest.get(..22)?;
    let bytes = BCRYPT_B64.decode(salt_text).ok()?;
    Some(McfSalt {
        version,
        cost,
        salt: bytes.try_into().ok()?,
    })
}

fn hash_mcf(password: &[u8], salt: &McfSalt) -> Option<String> {
    if !(4..=31).contains(&salt.cost) {
        return None;
    }
    let parts = bcrypt::hash_with_salt(password, salt.cost, salt.salt).ok()?;
    let version = match salt.version {
        "2a" => bcrypt::Version::TwoA,
        "2y" => bcrypt::Version::TwoY,
        "2x" => bcrypt::Version::TwoX,
        _ => bcrypt::Version::TwoB,
    };
    Some(parts.format_for_version(version))
}

fn new_salt(rounds: u32) -> String {
    let bytes: [u8; 16] = rand::random();
    format!("$2b${rounds:02}${}", BCRYPT_B64.encode(bytes))
}

fn sha256_hex(password: &str) -> String {
    hex::encode(Sha256::digest(password.as_bytes()))
}

/// Shared body of the two bcrypt hashers.
#[derive(Debug, Clone)]
struct Bcrypt {
    algorithm: &'static str,
    prehash: bool,
    rounds: u32,
}

impl Bcrypt {
    fn input(&self, password: &str) -> Result<Vec<u8>, HashError> {
        if self.prehash {
            return Ok(sha256_hex(password).into_bytes());
        }
        if password.len() > 72 {
            return Err(HashError::PasswordTooLong(password.len()));
        }
        Ok(password.as_bytes().to_vec())
    }

    fn mcf<'a>(&self, encoded: &'a str) -> Option<&'a str> {
        encoded.strip_prefix(self.algorithm)?.strip_prefix('$')
    }

    fn encode(&self, password: &str, salt: &str) -> Result<String, HashError> {
        let parsed = parse_salt(salt).ok_or(HashError::InvalidSalt)?;
        let input = self.input(password)?;
        let mcf = hash_mcf(&input, &parsed)
            .ok_or_else(|| HashError::InvalidParameters(format!("bcrypt cost {}", parsed.cost)))?;
        Ok(format!("{}${mcf}", self.algorithm))
    }

    fn verify(&self, password: &str, encoded: &str) -> bool {
        let Some(mcf) = self.mcf(encoded) else {
            return false;
        };
        let (Some(salt), Ok(input)) = (parse_salt(mcf), self.input(password)) else {
            return false;
        };
        hash_mcf(&input, &salt).is_some_and(|h| constant_time_compare(h, mcf))
    }

    fn stored_cost(&self, encoded: &str) -> Option<u32> {
        parse_salt(self.mcf(encoded)?).map(|s| s.cost)
    }

    fn harden_runtime(&self, password: &str, encoded: &str) {
        let (Some(mcf), Ok(input)) = (self.mcf(encoded), self.input(password)) else {
            return;
        };
        let Some(mut salt) = parse_salt(mcf) else {
            return;
        };
        // 2^(default - stored) - 1 more hashes at the stored cost, as Django does.
        let Some(diff) = self
            .rounds
            .checked_sub(salt.cost)
            .filter(|d| *d > 0 && *d < 20)
        else {
            return;
        };
        salt.version = "2b";
        for _ in 0..((1u32 << diff) - 1) {
            let _ = hash_mcf(&input, &salt);
        }
    }
}

macro_rules! bcrypt_hasher {
    ($name:ident, $algorithm:literal, $prehash:literal, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug, Clone)]
        pub struct $name(Bcrypt);

        impl $name {
            /// With the given work factor (log2 of the rounds).
            pub fn with_rounds(rounds: u32) -> Self {
                Self(Bcrypt {
                    algorithm: $algorithm,
                    prehash: $prehash,
                    rounds,
                })
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::with_rounds(DEFAULT_ROUNDS)
            }
        }

        impl PasswordHasher for $name {
            fn algorithm(&self) -> &'static str {
                $algorithm
            }

            /// A bcrypt salt: `$2b$<rounds>$` and 22 characters.
            fn salt(&self) -> String {
                new_salt(self.0.rounds)
            }

            fn encode(&self, password: &str, salt: &str) -> Result<String, HashError> {
                self.0.encode(password, salt)
            }

            fn verify(&self, password: &str, encoded: &str) -> bool {
                self.0.verify(password, encoded)
            }

            fn must_update(&self, encoded: &str) -> bool {
                self.0.stored_cost(encoded) != Some(self.0.rounds)
            }

            fn harden_runtime(&self, password: &str, encoded: &str) {
                self.0.harden_runtime(password, encoded)
            }
        }
    };
}

bcrypt_hasher!(
    BcryptSha256Hasher,
    "bcrypt_sha256",
    true,
    "`bcrypt_sha256`: bcrypt over the hex SHA-256 of the password (Django's `BCryptSHA256PasswordHasher`)."
);
bcrypt_hasher!(
    BcryptHasher,
    "bcrypt",
    false,
    "`bcrypt`: plain bcrypt, at most 72 bytes of password (Django's `BCryptPasswordHasher`)."
);
