//! Django's password hashers (`django.contrib.auth.hashers`).
//!
//! A stored password names its own algorithm (the text before the first `$`), so old hashes
//! keep verifying after the preferred hasher changes, and [`Hashers::verify_password`] tells
//! when a hash should be upgraded (`must_update`), which login does quietly.
//!
//! ```
//! use sesame_core::auth::hashers::{Hashers, CheckResult};
//!
//! let with_md5 = Hashers::from_names(&["pbkdf2_sha256", "md5"], "5.2").unwrap();
//! let encoded = with_md5.make_password_with(Some("s3cret"), Some("seasaltseasaltseasalt1"), Some("md5")).unwrap();
//! // Valid, but not made by the preferred hasher: upgrade it.
//! assert_eq!(with_md5.verify_password("s3cret", &encoded), CheckResult { valid: true, must_update: true });
//! // md5 is not in Django's default list: there it does not verify at all.
//! let defaults = Hashers::django_default("5.2").unwrap();
//! assert!(!defaults.verify_password("s3cret", &encoded).valid);
//! ```

//!
//! PBKDF2 (Django's preferred hasher) is always compiled in; the others each have a crate
//! feature, all on by default: `argon2`, `bcrypt` (`bcrypt` and `bcrypt_sha256`), `scrypt`,
//! and `legacy` (`md5`, `sha1`, `unsalted_md5`, `unsalted_sha1`). Naming a hasher that is
//! not compiled in is a configuration error ([`HashError::NotCompiledIn`]); a stored hash of
//! such an algorithm does not verify, and says why in the log.

#[cfg(feature = "argon2")]
mod argon2;
#[cfg(feature = "bcrypt")]
mod bcrypt;
#[cfg(feature = "legacy")]
mod legacy;
mod pbkdf2;
mod pool;
#[cfg(feature = "scrypt")]
mod scrypt;

#[cfg(feature = "argon2")]
pub use argon2::Argon2Hasher;
#[cfg(feature = "bcrypt")]
pub use bcrypt::{BcryptHasher, BcryptSha256Hasher};
#[cfg(feature = "legacy")]
pub use legacy::{Md5Hasher, Sha1Hasher, UnsaltedMd5Hasher, UnsaltedSha1Hasher};
pub use pbkdf2::{Pbkdf2Hasher, pbkdf2_iterations, sha_extensions};
pub use pool::{DEFAULT_HASHING_NICE, PasswordHashing};
#[cfg(feature = "scrypt")]
pub use scrypt::ScryptHasher;

use crate::crypto::{RANDOM_STRING_CHARS, get_random_string};
use std::sync::Arc;

/// The prefix of an unusable password (`make_password(None)`).
pub const UNUSABLE_PASSWORD_PREFIX: &str = "!";
/// The number of random characters after the `!`.
pub const UNUSABLE_PASSWORD_SUFFIX_LENGTH: usize = 40;

/// Why a password could not be hashed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashError {
    /// The algorithm is not configured (or does not exist).
    #[error("unknown password hashing algorithm {0:?}: it is not in PASSWORD_HASHERS")]
    UnknownAlgorithm(String),
    /// The algorithm exists in Django but this build leaves it out.
    #[error(
        "password hasher {algorithm:?} is not compiled in: enable the `{feature}` feature of \
         sesame-core (or of sesame), or remove it from PASSWORD_HASHERS"
    )]
    NotCompiledIn {
        /// The algorithm, as a stored hash names it (`argon2`, `bcrypt_sha256`, ...).
        algorithm: &'static str,
        /// The crate feature that compiles it in.
        feature: &'static str,
    },
    /// The hasher only verifies legacy hashes.
    #[error("the {0} hasher only verifies old hashes; it cannot make new ones")]
    VerifyOnly(&'static str),
    /// An empty salt or one containing `$`.
    #[error("invalid salt: it must be non-empty and contain no '$'")]
    InvalidSalt,
    /// Plain bcrypt cannot take more than 72 bytes (use `bcrypt_sha256`).
    #[error("password is {0} bytes; plain bcrypt accepts at most 72 (use bcrypt_sha256)")]
    PasswordTooLong(usize),
    /// The parameters are out of range.
    #[error("invalid hasher parameters: {0}")]
    InvalidParameters(String),
    /// The hashing thread failed.
    #[error("password hashing worker failed: {0}")]
    Worker(String),
}

/// One algorithm: Django's `BasePasswordHasher`.
pub trait PasswordHasher: Send + Sync + std::fmt::Debug {
    /// The algorithm name, the prefix of its encoded form.
    fn algorithm(&self) -> &'static str;

    /// A new salt: 22 characters of `[a-zA-Z0-9]` (≈131 bits).
    fn salt(&self) -> String {
        get_random_string(SALT_LENGTH, RANDOM_STRING_CHARS)
    }

    /// Hash `password` with `salt` into the stored form.
    fn encode(&self, password: &str, salt: &str) -> Result<String, HashError>;

    /// Whether `password` matches `encoded`. Malformed input is simply `false`.
    fn verify(&self, password: &str, encoded: &str) -> bool;

    /// Whether `encoded` was made with other parameters than this hasher's.
    fn must_update(&self, _encoded: &str) -> bool {
        false
    }

    /// Spend the time that a hash with this hasher's parameters would have taken, so that a
    /// wrong password against an old, cheaper hash is not measurably faster.
    fn harden_runtime(&self, _password: &str, _encoded: &str) {}
}

/// `ceil(128 / log2(62))`: Django's salt length.
pub const SALT_LENGTH: usize = 22;

/// Django's `must_update_salt(salt, 128)`: a salt shorter than 22 characters.
pub fn must_update_salt(salt: &str) -> bool {
    (salt.chars().count() as f64) * 62f64.log2() < 128.0
}

/// Django's `_check_encode_args`: the salt must be non-empty and contain no `$`.
pub(crate) fn check_salt(salt: &str) -> Result<(), HashError> {
    if salt.is_empty() || salt.contains('$') {
        return Err(HashError::InvalidSalt);
    }
    Ok(())
}

/// `is_password_usable(encoded)`.
pub fn is_password_usable(encoded: &str) -> bool {
    !encoded.starts_with(UNUSABLE_PASSWORD_PREFIX)
}

/// An unusable password: `!` and 40 random characters.
pub fn make_unusable_password() -> String {
    format!(
        "{UNUSABLE_PASSWORD_PREFIX}{}",
        get_random_string(UNUSABLE_PASSWORD_SUFFIX_LENGTH, RANDOM_STRING_CHARS)
    )
}

/// The outcome of [`Hashers::verify_password`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckResult {
    /// The password matches.
    pub valid: bool,
    /// The hash should be replaced with one made by the preferred hasher.
    pub must_update: bool,
}

/// The configured hashers (`PASSWORD_HASHERS`); the first one is preferred.
///
/// New passwords are hashed with the preferred one; a stored hash is verified by whichever
/// configured hasher its prefix names, so the list must keep every algorithm still found in
/// the user table. Hashing is deliberately slow (hundreds of milliseconds for Django's
/// defaults): in an async server, call it through [`PasswordHashing`], which runs it on worker
/// threads.
///
/// ```
/// use sesame_core::auth::hashers::Hashers;
///
/// let hashers = Hashers::django_default("5.2")?;
/// let encoded = hashers.make_password(Some("correct horse battery staple"))?;
/// assert!(encoded.starts_with("pbkdf2_sha256$1000000$"));
/// assert!(hashers.check_password("correct horse battery staple", &encoded));
/// assert!(!hashers.check_password("Tr0ub4dor&3", &encoded));
/// // A user without a password (`set_unusable_password`) never matches.
/// let unusable = hashers.make_password(None)?;
/// assert!(!hashers.check_password("", &unusable));
/// # Ok::<(), sesame_core::auth::hashers::HashError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Hashers {
    list: Vec<Arc<dyn PasswordHasher>>,
}

/// Map an algorithm name or a Django dotted path to a hasher, with the parameter defaults of
/// `django_version` (`"5.2"`, `"6.0"`, ...).
pub fn hasher_by_name(
    name: &str,
    django_version: &str,
) -> Result<Arc<dyn PasswordHasher>, HashError> {
    let short = name.rsplit('.').next().unwrap_or(name);
    let iterations = pbkdf2_iterations(django_version)?;
    Ok(match short {
        "pbkdf2_sha256" | "PBKDF2PasswordHasher" => Arc::new(Pbkdf2Hasher::sha256(iterations)),
        "pbkdf2_sha1" | "PBKDF2SHA1PasswordHasher" => Arc::new(Pbkdf2Hasher::sha1(iterations)),
        #[cfg(feature = "argon2")]
        "argon2" | "Argon2PasswordHasher" => Arc::new(Argon2Hasher::default()),
        #[cfg(feature = "bcrypt")]
        "bcrypt_sha256" | "BCryptSHA256PasswordHasher" => Arc::new(BcryptSha256Hasher::default()),
        #[cfg(feature = "bcrypt")]
        "bcrypt" | "BCryptPasswordHasher" => Arc::new(BcryptHasher::default()),
        #[cfg(feature = "scrypt")]
        "scrypt" | "ScryptPasswordHasher" => Arc::new(ScryptHasher::default()),
        #[cfg(feature = "legacy")]
        "md5" | "MD5PasswordHasher" => Arc::new(Md5Hasher),
        #[cfg(feature = "legacy")]
        "sha1" | "SHA1PasswordHasher" => Arc::new(Sha1Hasher),
        #[cfg(feature = "legacy")]
        "unsalted_sha1" | "UnsaltedSHA1PasswordHasher" => Arc::new(UnsaltedSha1Hasher),
        #[cfg(feature = "legacy")]
        "unsalted_md5" | "UnsaltedMD5PasswordHasher" => Arc::new(UnsaltedMd5Hasher),
        _ => {
            let missing = NOT_COMPILED_IN
                .iter()
                .find(|(_, class, _)| *class == short)
                .or_else(|| NOT_COMPILED_IN.iter().find(|(alg, _, _)| *alg == short));
            return Err(match missing {
                Some(&(algorithm, _, feature)) => HashError::NotCompiledIn { algorithm, feature },
                None => HashError::UnknownAlgorithm(name.to_owned()),
            });
        }
    })
}

/// Django's hashers that this build leaves out: (algorithm, Django class name, the feature
/// that compiles it in).
const NOT_COMPILED_IN: &[(&str, &str, &str)] = &[
    #[cfg(not(feature = "argon2"))]
    ("argon2", "Argon2PasswordHasher", "argon2"),
    #[cfg(not(feature = "bcrypt"))]
    ("bcrypt_sha256", "BCryptSHA256PasswordHasher", "bcrypt"),
    #[cfg(not(feature = "bcrypt"))]
    ("bcrypt", "BCryptPasswordHasher", "bcrypt"),
    #[cfg(not(feature = "scrypt"))]
    ("scrypt", "ScryptPasswordHasher", "scrypt"),
    #[cfg(not(feature = "legacy"))]
    ("md5", "MD5PasswordHasher", "legacy"),
    #[cfg(not(feature = "legacy"))]
    ("sha1", "SHA1PasswordHasher", "legacy"),
    #[cfg(not(feature = "legacy"))]
    ("unsalted_sha1", "UnsaltedSHA1PasswordHasher", "legacy"),
    #[cfg(not(feature = "legacy"))]
    ("unsalted_md5", "UnsaltedMD5PasswordHasher", "legacy"),
];

/// The crate feature an algorithm needs, if it is one of Django's that this build leaves out.
pub fn missing_feature(algorithm: &str) -> Option<&'static str> {
    NOT_COMPILED_IN
        .iter()
        .find(|(alg, _, _)| *alg == algorithm)
        .map(|&(_, _, feature)| feature)
}

/// Django's default `PASSWORD_HASHERS` (PBKDF2, PBKDF2-SHA1, Argon2, BCrypt-SHA256, Scrypt),
/// less those this build leaves out, by algorithm name. With the default features, all five.
pub fn django_default_names() -> Vec<&'static str> {
    [
        "pbkdf2_sha256",
        "pbkdf2_sha1",
        "argon2",
        "bcrypt_sha256",
        "scrypt",
    ]
    .into_iter()
    .filter(|alg| missing_feature(alg).is_none())
    .collect()
}

impl Hashers {
    /// Hashers from a list of instances; the first is preferred.
    pub fn new(list: Vec<Arc<dyn PasswordHasher>>) -> Result<Self, HashError> {
        if list.is_empty() {
            return Err(HashError::InvalidParameters(
                "PASSWORD_HASHERS is empty".into(),
            ));
        }
        Ok(Self { list })
    }

    /// Hashers by name (`pbkdf2_sha256`) or Django dotted path.
    pub fn from_names<S: AsRef<str>>(names: &[S], django_version: &str) -> Result<Self, HashError> {
        Self::new(
            names
                .iter()
                .map(|n| hasher_by_name(n.as_ref(), django_version))
                .collect::<Result<_, _>>()?,
        )
    }

    /// Django's default `PASSWORD_HASHERS` for a release, less the hashers this build leaves
    /// out ([`django_default_names`]).
    pub fn django_default(django_version: &str) -> Result<Self, HashError> {
        Self::from_names(&django_default_names(), django_version)
    }

    /// The hashers from settings.
    pub fn from_settings(s: &crate::settings::Settings) -> Result<Self, HashError> {
        Self::from_names(&s.auth.password_hashers, s.django_version.as_str())
    }

    /// The preferred hasher.
    pub fn preferred(&self) -> &Arc<dyn PasswordHasher> {
        &self.list[0]
    }

    /// A configured hasher by algorithm name.
    pub fn get(&self, algorithm: &str) -> Option<&Arc<dyn PasswordHasher>> {
        self.list.iter().find(|h| h.algorithm() == algorithm)
    }

    /// `identify_hasher(encoded)`.
    pub fn identify(&self, encoded: &str) -> Option<&Arc<dyn PasswordHasher>> {
        let algorithm = if (encoded.len() == 32 && !encoded.contains('$'))
            || (encoded.len() == 37 && encoded.starts_with("md5$$"))
        {
            "unsalted_md5"
        } else if encoded.len() == 46 && encoded.starts_with("sha1$$") {
            "unsalted_sha1"
        } else {
            encoded.split('$').next().unwrap_or_default()
        };
        self.get(algorithm)
    }

    /// `make_password(password)`: the preferred hasher with a fresh salt, or an unusable
    /// password for `None`.
    ///
    /// # Errors
    ///
    /// [`HashError::PasswordTooLong`] when the preferred hasher is plain bcrypt and the
    /// password is over 72 bytes, [`HashError::VerifyOnly`] when it is a legacy hasher that
    /// only verifies, [`HashError::InvalidParameters`] for parameters out of range.
    pub fn make_password(&self, password: Option<&str>) -> Result<String, HashError> {
        self.make_password_with(password, None, None)
    }

    /// `make_password(password, salt, hasher)`: a chosen salt (`None` for a fresh one) and a
    /// chosen configured algorithm (`None` or `"default"` for the preferred one). A fixed
    /// salt is for reproducing Django's test vectors; real passwords want a fresh one.
    ///
    /// # Errors
    ///
    /// [`HashError::UnknownAlgorithm`] when `algorithm` is not configured, and whatever the
    /// hasher refuses, as in [`make_password`](Self::make_password).
    pub fn make_password_with(
        &self,
        password: Option<&str>,
        salt: Option<&str>,
        algorithm: Option<&str>,
    ) -> Result<String, HashError> {
        let Some(password) = password else {
            return Ok(make_unusable_password());
        };
        let hasher = match algorithm {
            None | Some("default") => self.preferred(),
            Some(name) => self
                .get(name)
                .ok_or_else(|| HashError::UnknownAlgorithm(name.to_owned()))?,
        };
        let salt = salt.map_or_else(|| hasher.salt(), str::to_owned);
        hasher.encode(password, &salt)
    }

    /// `verify_password(password, encoded)`: whether it matches, and whether the hash should
    /// be upgraded. Unusable, unknown or malformed hashes are `false` after one hash with the
    /// preferred hasher, so that they take as long as a wrong password.
    pub fn verify_password(&self, password: &str, encoded: &str) -> CheckResult {
        let invalid = CheckResult {
            valid: false,
            must_update: false,
        };
        let hasher = match self.identify(encoded) {
            Some(h) if is_password_usable(encoded) => h,
            _ => {
                // A hash Django made with a hasher this build leaves out: no password can
                // match it here, which the operator needs to know (the user cannot log in).
                if let Some(feature) = encoded.split('$').next().and_then(missing_feature) {
                    tracing::warn!(
                        algorithm = encoded.split('$').next().unwrap_or_default(),
                        feature,
                        "a stored password hash uses a hasher this build does not include; \
                         it cannot match (enable the sesame feature `{feature}`)"
                    );
                }
                self.fake_hash();
                return invalid;
            }
        };
        let preferred = self.preferred();
        let hasher_changed = hasher.algorithm() != preferred.algorithm();
        let must_update = hasher_changed || preferred.must_update(encoded);
        let valid = hasher.verify(password, encoded);
        if !valid && !hasher_changed && must_update {
            hasher.harden_runtime(password, encoded);
        }
        CheckResult { valid, must_update }
    }

    /// `check_password(password, encoded)`: just whether it matches. Login wants
    /// [`verify_password`](Self::verify_password), to upgrade hashes made by an older hasher.
    pub fn check_password(&self, password: &str, encoded: &str) -> bool {
        self.verify_password(password, encoded).valid
    }

    /// One hash with the preferred hasher, thrown away: what an unknown user costs, so that
    /// login time does not reveal which usernames exist.
    pub fn fake_hash(&self) {
        let random = get_random_string(UNUSABLE_PASSWORD_SUFFIX_LENGTH, RANDOM_STRING_CHARS);
        let _ = self.make_password(Some(&random));
    }
}

// Two attributes: clippy's allow-unwrap-in-tests looks for a plain `#[cfg(test)]`.
#[cfg(test)]
#[cfg(all(
    feature = "argon2",
    feature = "bcrypt",
    feature = "scrypt",
    feature = "legacy"
))]
mod tests;

#[cfg(test)]
mod feature_tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Every hasher of Django's is either built or reported missing with its feature, never
    /// "unknown"; a missing one fails cleanly as configuration and as a stored hash.
    #[test]
    fn each_django_hasher_is_built_or_names_its_feature() {
        let all = [
            ("argon2", cfg!(feature = "argon2")),
            ("bcrypt_sha256", cfg!(feature = "bcrypt")),
            ("bcrypt", cfg!(feature = "bcrypt")),
            ("scrypt", cfg!(feature = "scrypt")),
            ("md5", cfg!(feature = "legacy")),
            ("sha1", cfg!(feature = "legacy")),
            ("unsalted_md5", cfg!(feature = "legacy")),
            ("unsalted_sha1", cfg!(feature = "legacy")),
        ];
        for (alg, built) in all {
            let named = hasher_by_name(alg, "5.2");
            let dotted = hasher_by_name(&format!("django.contrib.auth.hashers.{alg}"), "5.2");
            if built {
                assert_eq!(named.map(|h| h.algorithm()).unwrap(), alg);
                assert!(dotted.is_ok(), "{alg}");
                assert_eq!(missing_feature(alg), None);
            } else {
                let feature = missing_feature(alg).unwrap();
                assert!(matches!(
                    named,
                    Err(HashError::NotCompiledIn { algorithm, feature: f })
                        if algorithm == alg && f == feature
                ));
                assert!(matches!(dotted, Err(HashError::NotCompiledIn { .. })));
                assert!(!django_default_names().contains(&alg));
                // A stored hash of it is just a wrong password, after a decoy hash.
                let h = Hashers::django_default("5.2").unwrap();
                assert!(!h.check_password("pw", &format!("{alg}$x$y$z")));
            }
        }
        assert!(matches!(
            hasher_by_name("whirlpool", "5.2"),
            Err(HashError::UnknownAlgorithm(_))
        ));
        assert_eq!(
            django_default_names()[..2],
            ["pbkdf2_sha256", "pbkdf2_sha1"]
        );
    }
}
