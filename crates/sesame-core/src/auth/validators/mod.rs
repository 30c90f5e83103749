//! Django's four password validators, with Django's messages and codes
//! (`django.contrib.auth.password_validation`).
//!
//! ```
//! use sesame_core::auth::validators::{PasswordValidators, UserAttributes};
//! let v = PasswordValidators::django_default();
//! let errors = v.validate("1234567", None).unwrap_err();
//! let codes: Vec<_> = errors.iter().map(|e| e.code).collect();
//! assert_eq!(codes, ["password_too_short", "password_too_common", "password_entirely_numeric"]);
//! let user = UserAttributes { username: "johnsmith".into(), ..Default::default() };
//! assert!(v.validate("johnsmith1", Some(&user)).is_err());
//! assert!(v.validate("Xy7#kq92LmPz", Some(&user)).is_ok());
//! ```

mod common;

pub use common::{common_passwords, is_common_password};

use crate::settings::ValidatorConfig;
use std::collections::HashMap;

/// One failed rule: Django's `ValidationError` with its code and formatted message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    /// Django's error code, e.g. `password_too_short`.
    pub code: &'static str,
    /// The message, already formatted, in English.
    pub message: String,
}

impl std::fmt::Display for ValidationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// The user attributes the similarity validator compares against.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserAttributes {
    /// `username`.
    pub username: String,
    /// `first_name`.
    pub first_name: String,
    /// `last_name`.
    pub last_name: String,
    /// `email`.
    pub email: String,
}

impl From<&super::User> for UserAttributes {
    fn from(u: &super::User) -> Self {
        Self {
            username: u.username.clone(),
            first_name: u.first_name.clone(),
            last_name: u.last_name.clone(),
            email: u.email.clone(),
        }
    }
}

/// A configured validator: one entry of `AUTH_PASSWORD_VALIDATORS`.
///
/// Build one directly for a custom policy; the messages and codes are Django's, so forms
/// show the same errors as the Django site.
///
/// ```
/// use sesame_core::auth::validators::PasswordValidator;
/// let longer = PasswordValidator::MinimumLength { min_length: 12 };
/// let err = longer.validate("short-pass", None).unwrap();
/// assert_eq!(err.code, "password_too_short");
/// assert_eq!(
///     err.message,
///     "This password is too short. It must contain at least 12 characters."
/// );
/// assert_eq!(longer.validate("a long enough passphrase", None), None);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum PasswordValidator {
    /// `UserAttributeSimilarityValidator(user_attributes, max_similarity)`.
    UserAttributeSimilarity {
        /// The attributes compared, by name.
        user_attributes: Vec<String>,
        /// At least 0.1.
        max_similarity: f64,
    },
    /// `MinimumLengthValidator(min_length)`.
    MinimumLength {
        /// In Unicode code points.
        min_length: usize,
    },
    /// `CommonPasswordValidator` with Django 5.2's list.
    CommonPassword,
    /// `NumericPasswordValidator`.
    NumericPassword,
}

/// Python's `str.isdigit()` for one character.
pub fn is_python_digit(c: char) -> bool {
    in_table(super::unicode_tables::PY_ISDIGIT, c)
}

/// Whether Python's Unicode `\w` matches `c`.
pub fn is_python_word_char(c: char) -> bool {
    in_table(super::unicode_tables::PY_WORD, c)
}

fn in_table(table: &[(char, char)], c: char) -> bool {
    table
        .binary_search_by(|&(lo, hi)| {
            if hi < c {
                std::cmp::Ordering::Less
            } else if lo > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// `SequenceMatcher(a=a, b=b).quick_ratio()`: `2*M/T`, where M is the size of the multiset
/// intersection of the characters.
pub fn quick_ratio(a: &str, b: &str) -> f64 {
    let (la, lb) = (a.chars().count(), b.chars().count());
    if la + lb == 0 {
        return 1.0;
    }
    let mut counts: HashMap<char, isize> = HashMap::new();
    for c in b.chars() {
        *counts.entry(c).or_default() += 1;
    }
    let mut matches = 0usize;
    for c in a.chars() {
        let n = counts.entry(c).or_default();
        if *n > 0 {
            matches += 1;
        }
        *n -= 1;
    }
    2.0 * matches as f64 / (la + lb) as f64
}

fn verbose_name(attribute: &str) -> &str {
    match attribute {
        "first_name" => "first name",
        "last_name" => "last name",
        "email" => "email address",
        other => other,
    }
}

impl PasswordValidator {
    /// Build one from Django's dotted name and its options.
    pub fn from_config(config: &ValidatorConfig) -> Result<Self, String> {
        let name = config.name.rsplit('.').next().unwrap_or(&config.name);
        let opt_f64 = |k: &str| {
            config
                .options
                .get(k)
                .and_then(|v| v.as_float().or_else(|| v.as_integer().map(|i| i as f64)))
        };
        Ok(match name {
            "UserAttributeSimilarityValidator" => {
                let max_similarity = opt_f64("max_similarity").unwrap_or(0.7);
                if max_similarity < 0.1 {
                    return Err("max_similarity must be at least 0.1".into());
                }
                let user_attributes = match config.options.get("user_attributes") {
                    Some(toml::Value::Array(a)) => a
                        .iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect(),
                    _ => ["username", "first_name", "last_name", "email"]
                        .map(String::from)
                        .to_vec(),
                };
                Self::UserAttributeSimilarity {
                    user_attributes,
                    max_similarity,
                }
            }
            "MinimumLengthValidator" => Self::MinimumLength {
                min_length: opt_f64("min_length").map_or(8, |v| v as usize),
            },
            "CommonPasswordValidator" => {
                if config.options.contains_key("password_list_path") {
                    return Err(
                        "password_list_path is not supported; Django 5.2's list is built in".into(),
                    );
                }
                Self::CommonPassword
            }
            "NumericPasswordValidator" => Self::NumericPassword,
            other => return Err(format!("unknown password validator {other:?}")),
        })
    }

    /// Check one password; `None` when it passes.
    pub fn validate(
        &self,
        password: &str,
        user: Option<&UserAttributes>,
    ) -> Option<ValidationError> {
        match self {
            Self::UserAttributeSimilarity { user_attributes, max_similarity } => {
                let user = user?;
                let p = password.to_lowercase();
                let plen = p.chars().count();
                for attr in user_attributes {
                    let value = match attr.as_str() {
                        "username" => &user.username,
                        "first_name" => &user.first_name,
                        "last_name" => &user.last_name,
                        "email" => &user.email,
                        _ => continue,
                    };
                    if value.is_empty() {
                        continue;
                    }
                    let v = value.to_lowercase();
                    // `re.split(r"\W+", v) + [v]`: runs of separators give one split, so
                    // empty pieces survive only at the ends.
                    let pieces: Vec<&str> = v.split(|c: char| !is_python_word_char(c)).collect();
                    let last = pieces.len() - 1;
                    let parts = pieces
                        .iter()
                        .enumerate()
                        .filter(|(i, p)| !p.is_empty() || *i == 0 || *i == last)
                        .map(|(_, p)| *p)
                        .chain(std::iter::once(v.as_str()));
                    for part in parts {
                        let len = part.chars().count();
                        // Django's shortcut: a part far shorter than the password cannot reach
                        // the threshold.
                        if plen >= 10 * len && (len as f64) < max_similarity / 2.0 * plen as f64 {
                            continue;
                        }
                        if quick_ratio(&p, part) >= *max_similarity {
                            return Some(ValidationError {
                                code: "password_too_similar",
                                message: format!("The password is too similar to the {}.", verbose_name(attr)),
                            });
                        }
                    }
                }
                None
            }
            Self::MinimumLength { min_length } => (password.chars().count() < *min_length).then(|| {
                ValidationError {
                    code: "password_too_short",
                    message: format!(
                        "This password is too short. It must contain at least {min_length} character{}.",
                        if *min_length == 1 { "" } else { "s" }
                    ),
                }
            }),
            Self::CommonPassword => is_common_password(password).then(|| ValidationError {
                code: "password_too_common",
                message: "This password is too common.".into(),
            }),
            Self::NumericPassword => (!password.is_empty() && password.chars().all(is_python_digit)).then(|| {
                ValidationError {
                    code: "password_entirely_numeric",
                    message: "This password is entirely numeric.".into(),
                }
            }),
        }
    }

    /// Django's help text.
    pub fn help_text(&self) -> String {
        match self {
            Self::UserAttributeSimilarity { .. } => {
                "Your password can’t be too similar to your other personal information.".into()
            }
            Self::MinimumLength { min_length } => format!(
                "Your password must contain at least {min_length} character{}.",
                if *min_length == 1 { "" } else { "s" }
            ),
            Self::CommonPassword => "Your password can’t be a commonly used password.".into(),
            Self::NumericPassword => "Your password can’t be entirely numeric.".into(),
        }
    }
}

/// The configured validators (`AUTH_PASSWORD_VALIDATORS`).
///
/// Run them where a password is chosen (signup, password change and reset, the CLI's
/// `createsuperuser`), never at login. The default value (no validators) accepts anything,
/// as Django does with an empty setting.
///
/// ```
/// use sesame_core::auth::validators::PasswordValidators;
/// let validators = PasswordValidators::django_default();
/// // Shown under the password field, as Django's `password_validators_help_text_html`:
/// assert_eq!(validators.help_texts().len(), 4);
/// assert!(PasswordValidators::default().validate("1", None).is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PasswordValidators(pub Vec<PasswordValidator>);

impl PasswordValidators {
    /// The four validators `startproject` enables, with their default options.
    pub fn django_default() -> Self {
        Self(vec![
            PasswordValidator::UserAttributeSimilarity {
                user_attributes: ["username", "first_name", "last_name", "email"]
                    .map(String::from)
                    .to_vec(),
                max_similarity: 0.7,
            },
            PasswordValidator::MinimumLength { min_length: 8 },
            PasswordValidator::CommonPassword,
            PasswordValidator::NumericPassword,
        ])
    }

    /// From settings.
    pub fn from_settings(s: &crate::settings::Settings) -> Result<Self, String> {
        s.auth
            .password_validators
            .iter()
            .map(PasswordValidator::from_config)
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// `validate_password`: every failure, in configuration order. `user` enables the
    /// similarity check (`None` skips it, as Django does without a user).
    ///
    /// # Errors
    ///
    /// Every [`ValidationError`] at once, so that a form can show them all.
    pub fn validate(
        &self,
        password: &str,
        user: Option<&UserAttributes>,
    ) -> Result<(), Vec<ValidationError>> {
        let errors: Vec<_> = self
            .0
            .iter()
            .filter_map(|v| v.validate(password, user))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// `password_validators_help_texts`.
    pub fn help_texts(&self) -> Vec<String> {
        self.0.iter().map(PasswordValidator::help_text).collect()
    }
}
