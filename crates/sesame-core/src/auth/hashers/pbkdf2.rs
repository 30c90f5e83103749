//! `pbkdf2_sha256` and `pbkdf2_sha1`.
//!
//! The fastest PBKDF2 differs by CPU, so the implementation is chosen once, at run time:
//! - with the x86 SHA extensions (SHA-NI) or ARMv8's, RustCrypto's `pbkdf2` + `sha2`/`sha1`,
//!   which use them (measured here, on a SHA-NI Xeon: 213 ms for 1,000,000 iterations of
//!   HMAC-SHA256, against 268 ms for aws-lc-rs and 362 ms for ring);
//! - without them, `ring` (measured on a machine without SHA-NI: ring 545 ms, aws-lc-rs
//!   534 ms, pure Rust 803 ms, Python's hashlib 800 ms).
//!
//! Both produce the same bytes; `bench/` measures them side by side.

use super::{HashError, PasswordHasher, check_salt, must_update_salt};
use crate::crypto::constant_time_compare;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use std::num::NonZeroU32;

#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
cpufeatures::new!(cpu_sha, "sha", "sse2", "ssse3", "sse4.1");
#[cfg(target_arch = "aarch64")]
cpufeatures::new!(cpu_sha, "sha2");

/// Whether the CPU has SHA instructions that RustCrypto's `sha1`/`sha2` use (detected once).
pub fn sha_extensions() -> bool {
    #[cfg(any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64"))]
    {
        cpu_sha::get()
    }
    #[cfg(not(any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64")))]
    {
        false
    }
}

/// Iterations between two offers of the CPU to another thread: about 0.15 ms of SHA-256.
const YIELD_EVERY: u32 = 1024;

/// PBKDF2 (RFC 8018) with the MAC `M`, offering the CPU to any other runnable thread every
/// [`YIELD_EVERY`] iterations.
///
/// Written out rather than calling `pbkdf2::pbkdf2_hmac` (which does the same steps: one
/// keyed MAC cloned per iteration) only to make those pauses. A hash runs for about 150 ms;
/// on Linux's EEVDF scheduler even a `SCHED_IDLE` hashing thread, once picked, keeps its core
/// for a whole time slice while a request beside it waits (measured with `perf sched` under
/// `bench/run-load.sh`: slices of 4.8 ms, which doubled the requests' 99th percentile). A
/// `sched_yield` between short chunks gives the core back within a fraction of a millisecond,
/// and costs nothing measurable when no one else wants it. The RFC's and Django's vectors,
/// and a comparison with `ring` below, check that the bytes are the same.
fn pbkdf2_yielding<M>(password: &[u8], salt: &[u8], iterations: u32, out: &mut [u8])
where
    M: hmac::Mac + hmac::digest::KeyInit + Clone,
{
    let prf = <M as hmac::digest::KeyInit>::new_from_slice(password)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    let block_len = <M as hmac::digest::OutputSizeUser>::output_size();
    for (i, block) in out.chunks_mut(block_len).enumerate() {
        let index = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let mut mac = prf.clone();
        mac.update(salt);
        mac.update(&index.to_be_bytes());
        let mut u = mac.finalize().into_bytes();
        block.copy_from_slice(u.get(..block.len()).unwrap_or_default());
        for n in 1..iterations {
            let mut mac = prf.clone();
            mac.update(&u);
            u = mac.finalize().into_bytes();
            block.iter_mut().zip(u.iter()).for_each(|(b, x)| *b ^= *x);
            if n % YIELD_EVERY == 0 {
                std::thread::yield_now();
            }
        }
    }
}

/// The refusal point for stored iteration counts: far above any Django default, low enough
/// that a hostile hash cannot pin a CPU for minutes.
const MAX_ITERATIONS: u32 = 100_000_000;

/// PBKDF2 iterations by Django release: 5.2's 1,000,000 is Sesame's default, 6.0's
/// 1,200,000 and 6.1's 1,500,000 are selectable.
pub fn pbkdf2_iterations(django_version: &str) -> Result<u32, HashError> {
    django_version
        .parse::<crate::settings::DjangoVersion>()
        .map(crate::settings::DjangoVersion::pbkdf2_iterations)
        .map_err(|e| HashError::InvalidParameters(e.to_string()))
}

/// PBKDF2 with HMAC-SHA256 or HMAC-SHA1.
#[derive(Clone)]
pub struct Pbkdf2Hasher {
    algorithm: &'static str,
    prf: ring::pbkdf2::Algorithm,
    dk_len: usize,
    iterations: u32,
}

impl std::fmt::Debug for Pbkdf2Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pbkdf2Hasher")
            .field("algorithm", &self.algorithm)
            .field("iterations", &self.iterations)
            .finish()
    }
}

struct Decoded<'a> {
    iterations: u32,
    salt: &'a str,
}

impl Pbkdf2Hasher {
    /// `pbkdf2_sha256` with the given iteration count.
    pub fn sha256(iterations: u32) -> Self {
        Self {
            algorithm: "pbkdf2_sha256",
            prf: ring::pbkdf2::PBKDF2_HMAC_SHA256,
            dk_len: 32,
            iterations,
        }
    }

    /// `pbkdf2_sha1` with the given iteration count.
    pub fn sha1(iterations: u32) -> Self {
        Self {
            algorithm: "pbkdf2_sha1",
            prf: ring::pbkdf2::PBKDF2_HMAC_SHA1,
            dk_len: 20,
            iterations,
        }
    }

    /// The iteration count new hashes get.
    pub fn iterations(&self) -> u32 {
        self.iterations
    }

    fn derive(&self, password: &str, salt: &str, iterations: u32) -> Vec<u8> {
        let mut out = vec![0u8; self.dk_len];
        let iterations = NonZeroU32::new(iterations).unwrap_or(NonZeroU32::MIN);
        let (pw, salt) = (password.as_bytes(), salt.as_bytes());
        match (sha_extensions(), self.dk_len) {
            (true, 32) => {
                pbkdf2_yielding::<hmac::Hmac<sha2::Sha256>>(pw, salt, iterations.get(), &mut out)
            }
            (true, _) => {
                pbkdf2_yielding::<hmac::Hmac<sha1::Sha1>>(pw, salt, iterations.get(), &mut out)
            }
            (false, _) => ring::pbkdf2::derive(self.prf, iterations, salt, pw, &mut out),
        }
        out
    }

    fn encode_with(&self, password: &str, salt: &str, iterations: u32) -> String {
        let hash = STANDARD.encode(self.derive(password, salt, iterations));
        format!("{}${iterations}${salt}${hash}", self.algorithm)
    }

    fn decode<'a>(&self, encoded: &'a str) -> Option<Decoded<'a>> {
        let mut parts = encoded.splitn(4, '$');
        if parts.next()? != self.algorithm {
            return None;
        }
        let iterations: u32 = parts.next()?.parse().ok()?;
        let salt = parts.next()?;
        parts.next()?;
        if iterations == 0 || iterations > MAX_ITERATIONS || check_salt(salt).is_err() {
            return None;
        }
        Some(Decoded { iterations, salt })
    }
}

impl PasswordHasher for Pbkdf2Hasher {
    fn algorithm(&self) -> &'static str {
        self.algorithm
    }

    fn encode(&self, password: &str, salt: &str) -> Result<String, HashError> {
        check_salt(salt)?;
        Ok(self.encode_with(password, salt, self.iterations))
    }

    fn verify(&self, password: &str, encoded: &str) -> bool {
        self.decode(encoded).is_some_and(|d| {
            constant_time_compare(encoded, self.encode_with(password, d.salt, d.iterations))
        })
    }

    fn must_update(&self, encoded: &str) -> bool {
        self.decode(encoded)
            .is_none_or(|d| d.iterations != self.iterations || must_update_salt(d.salt))
    }

    fn harden_runtime(&self, password: &str, encoded: &str) {
        if let Some(d) = self.decode(encoded) {
            if let Some(extra) = self.iterations.checked_sub(d.iterations).filter(|n| *n > 0) {
                self.derive(password, d.salt, extra);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both back ends give the same bytes, whichever this CPU picks.
    #[test]
    fn ring_and_rustcrypto_agree() {
        for (pw, salt, n) in [
            ("password", "seasalt", 1),
            ("pässwörd-ß-日本", "Q3ynwEYyGVZ81z4e3eV9Pa", 1000),
            ("", "s", 7),
        ] {
            let it = NonZeroU32::new(n).unwrap();
            let mut a = [0u8; 32];
            let mut b = [0u8; 32];
            ring::pbkdf2::derive(
                ring::pbkdf2::PBKDF2_HMAC_SHA256,
                it,
                salt.as_bytes(),
                pw.as_bytes(),
                &mut a,
            );
            pbkdf2::pbkdf2_hmac::<sha2::Sha256>(pw.as_bytes(), salt.as_bytes(), n, &mut b);
            assert_eq!(a, b);
            let mut y = [0u8; 32];
            pbkdf2_yielding::<hmac::Hmac<sha2::Sha256>>(pw.as_bytes(), salt.as_bytes(), n, &mut y);
            assert_eq!(a, y);
            // Longer than one block (two blocks of SHA-256), and past a yield point.
            let mut long_a = [0u8; 40];
            let mut long_y = [0u8; 40];
            pbkdf2::pbkdf2_hmac::<sha2::Sha256>(pw.as_bytes(), salt.as_bytes(), 3000, &mut long_a);
            pbkdf2_yielding::<hmac::Hmac<sha2::Sha256>>(
                pw.as_bytes(),
                salt.as_bytes(),
                3000,
                &mut long_y,
            );
            assert_eq!(long_a, long_y);
            let mut c = [0u8; 20];
            let mut d = [0u8; 20];
            ring::pbkdf2::derive(
                ring::pbkdf2::PBKDF2_HMAC_SHA1,
                it,
                salt.as_bytes(),
                pw.as_bytes(),
                &mut c,
            );
            pbkdf2::pbkdf2_hmac::<sha1::Sha1>(pw.as_bytes(), salt.as_bytes(), n, &mut d);
            assert_eq!(c, d);
            let mut y = [0u8; 20];
            pbkdf2_yielding::<hmac::Hmac<sha1::Sha1>>(pw.as_bytes(), salt.as_bytes(), n, &mut y);
            assert_eq!(c, y);
        }
        assert_eq!(
            Pbkdf2Hasher::sha256(1)
                .encode("password", "seasalt")
                .unwrap(),
            "pbkdf2_sha256$1$seasalt$YQUqaoGGIdcjQtCPUVvu1oIcyb7WgPW9b7k/hvRudOk="
        );
    }
}
