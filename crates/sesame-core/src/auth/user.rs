//! Users, groups, permissions and content types: Django's `auth` models.

use crate::crypto::{Algorithm, salted_hmac_hex};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;
use std::str::FromStr;

/// `HASH_SESSION_KEY`'s salt: `AbstractBaseUser.get_session_auth_hash`.
pub(crate) const SESSION_AUTH_HASH_SALT: &str =
    "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash";

/// A MongoDB ObjectId: 12 bytes, written as 24 lower-case hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectId(pub [u8; 12]);

impl FromStr for ObjectId {
    type Err = InvalidId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != 24 {
            return Err(InvalidId(s.to_owned()));
        }
        let bytes = hex::decode(s).map_err(|_| InvalidId(s.to_owned()))?;
        Ok(Self(bytes.try_into().map_err(|_| InvalidId(s.to_owned()))?))
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

/// A text that is not a valid id of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid id {0:?}")]
pub struct InvalidId(pub String);

/// The kinds of primary key a store can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IdKind {
    /// An integer (`AutoField`): SQL stores and MongoDB with a counters collection.
    Int,
    /// A string primary key, such as the e-mail address.
    Str,
    /// A MongoDB ObjectId.
    ObjectId,
}

/// A primary key. Whatever its kind, it travels as a string: in `_auth_user_id`, in reset
/// tokens and in `uidb64`.
///
/// ```
/// use sesame_core::auth::{Id, IdKind};
/// assert_eq!(Id::Int(42).to_string(), "42");
/// assert_eq!(Id::parse("6b025aae8899c002583f03e2", IdKind::ObjectId).unwrap().to_string(), "6b025aae8899c002583f03e2");
/// assert!(Id::parse("42abc", IdKind::Int).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Id {
    /// An integer key.
    Int(i64),
    /// A string key.
    Str(String),
    /// An ObjectId key.
    ObjectId(ObjectId),
}

impl Id {
    /// `pk.to_python(text)` for a kind of key.
    pub fn parse(text: &str, kind: IdKind) -> Result<Self, InvalidId> {
        match kind {
            IdKind::Int => text
                .parse::<i64>()
                .ok()
                .filter(|_| text.bytes().all(|b| b.is_ascii_digit() || b == b'-'))
                .map(Id::Int)
                .ok_or_else(|| InvalidId(text.to_owned())),
            IdKind::Str if !text.is_empty() => Ok(Id::Str(text.to_owned())),
            IdKind::Str => Err(InvalidId(String::new())),
            IdKind::ObjectId => text.parse().map(Id::ObjectId),
        }
    }

    /// The kind of this key.
    pub fn kind(&self) -> IdKind {
        match self {
            Id::Int(_) => IdKind::Int,
            Id::Str(_) => IdKind::Str,
            Id::ObjectId(_) => IdKind::ObjectId,
        }
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Id::Int(i) => write!(f, "{i}"),
            Id::Str(s) => f.write_str(s),
            Id::ObjectId(o) => o.fmt(f),
        }
    }
}

/// A user with the fields of Django's `auth.User`. Extra profile fields go in `extra`.
///
/// Its `Debug` output leaves out the password hash (only the algorithm is shown): a hash is
/// enough to mount an offline guessing attack, so it must not end up in logs.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// The primary key.
    #[serde(with = "id_as_string")]
    pub id: Id,
    /// The encoded password (`algorithm$...`), or `!...` when unusable.
    pub password: String,
    /// The last successful login.
    pub last_login: Option<DateTime<Utc>>,
    /// Has every permission (while active).
    pub is_superuser: bool,
    /// The unique login name (150 characters at most).
    pub username: String,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// E-mail address (not unique in Django's schema).
    pub email: String,
    /// May use the admin site.
    pub is_staff: bool,
    /// Inactive users cannot log in and have no permissions.
    pub is_active: bool,
    /// When the account was created.
    pub date_joined: DateTime<Utc>,
    /// Profile fields beyond Django's.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub extra: serde_json::Map<String, Value>,
    /// The backend that authenticated this user (Django's `user.backend`); not stored.
    #[serde(skip)]
    pub backend: Option<String>,
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("password", &RedactedPassword(&self.password))
            .field("last_login", &self.last_login)
            .field("is_superuser", &self.is_superuser)
            .field("username", &self.username)
            .field("first_name", &self.first_name)
            .field("last_name", &self.last_name)
            .field("email", &self.email)
            .field("is_staff", &self.is_staff)
            .field("is_active", &self.is_active)
            .field("date_joined", &self.date_joined)
            .field("extra", &self.extra)
            .field("backend", &self.backend)
            .finish()
    }
}

/// An encoded password for `Debug`: its algorithm (`pbkdf2_sha256$..`), or `!..` for an
/// unusable one, never the salt or the hash.
pub(crate) struct RedactedPassword<'a>(pub(crate) &'a str);

impl fmt::Debug for RedactedPassword<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("\"\"")
        } else if self.0.starts_with('!') {
            f.write_str("\"!..\"")
        } else if let Some((algorithm, _)) = self.0.split_once('$') {
            write!(f, "\"{algorithm}$..\"")
        } else {
            f.write_str("\"..\"")
        }
    }
}

mod id_as_string {
    use super::Id;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(id: &Id, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(id)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Id, D::Error> {
        let text = String::deserialize(d)?;
        Ok(text
            .parse::<i64>()
            .map(Id::Int)
            .or_else(|_| text.parse().map(Id::ObjectId))
            .unwrap_or(Id::Str(text)))
    }
}

impl User {
    /// `get_session_auth_hash()` with the current `SECRET_KEY`.
    ///
    /// ```
    /// # use sesame_core::auth::User;
    /// let h = User::session_auth_hash_for(
    ///     "pbkdf2_sha256$1200000$xKhVqWoLDzFvGz4tJ3cIbM$placeholderhash=",
    ///     "django-insecure-test-vector-secret-key-0123456789abcdef",
    /// );
    /// assert_eq!(h, "df80b29ec79e712033ec3dc049451513d9b914b713f3a90b521b6d203b702980");
    /// ```
    pub fn get_session_auth_hash(&self, secret_key: &str) -> String {
        Self::session_auth_hash_for(&self.password, secret_key)
    }

    /// The session auth hash of a password field under a key.
    pub fn session_auth_hash_for(password: &str, secret_key: &str) -> String {
        salted_hmac_hex(
            SESSION_AUTH_HASH_SALT,
            password,
            secret_key,
            Algorithm::Sha256,
        )
    }

    /// Whether the password can ever match (`has_usable_password`).
    pub fn has_usable_password(&self) -> bool {
        super::hashers::is_password_usable(&self.password)
    }

    /// `get_full_name()`: first and last name, stripped.
    pub fn get_full_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
            .trim()
            .to_owned()
    }

    /// `get_short_name()`.
    pub fn get_short_name(&self) -> &str {
        &self.first_name
    }
}

/// The fields of a user to create.
///
/// As for [`User`], `Debug` shows the password's algorithm only.
#[derive(Clone, Default, PartialEq)]
pub struct NewUser {
    /// A chosen primary key (string keys such as the e-mail); `None` lets the store assign one.
    pub id: Option<Id>,
    /// The username (already normalised, see [`normalize_username`]).
    pub username: String,
    /// The e-mail (see [`normalize_email`]).
    pub email: String,
    /// The encoded password (from `make_password`).
    pub password: String,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// Staff flag.
    pub is_staff: bool,
    /// Superuser flag.
    pub is_superuser: bool,
    /// Active flag (Django's default is true; set it explicitly).
    pub is_active: bool,
    /// Profile fields.
    pub extra: serde_json::Map<String, Value>,
}

impl fmt::Debug for NewUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewUser")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("email", &self.email)
            .field("password", &RedactedPassword(&self.password))
            .field("first_name", &self.first_name)
            .field("last_name", &self.last_name)
            .field("is_staff", &self.is_staff)
            .field("is_superuser", &self.is_superuser)
            .field("is_active", &self.is_active)
            .field("extra", &self.extra)
            .finish()
    }
}

impl NewUser {
    /// What every store refuses, so that all stores accept the same users: NUL characters
    /// (PostgreSQL cannot store them) and usernames outside 1 to 150 characters.
    pub fn validate(&self) -> Result<(), super::AuthStoreError> {
        if self.username.contains('\0') || self.email.contains('\0') {
            return Err(super::AuthStoreError::Invalid(
                "NUL characters are not allowed".into(),
            ));
        }
        if self.username.is_empty() || self.username.chars().count() > 150 {
            return Err(super::AuthStoreError::Invalid(
                "a username is 1 to 150 characters".into(),
            ));
        }
        Ok(())
    }

    /// An active, ordinary user.
    pub fn new(
        username: impl Into<String>,
        email: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        Self {
            username: username.into(),
            email: email.into(),
            password: password.into(),
            is_active: true,
            ..Self::default()
        }
    }
}

/// One field to change with `UserStore::update_user`.
#[derive(Debug, Clone, PartialEq)]
pub enum UserField {
    /// `username`.
    Username(String),
    /// `email`.
    Email(String),
    /// `password` (encoded).
    Password(String),
    /// `first_name`.
    FirstName(String),
    /// `last_name`.
    LastName(String),
    /// `is_staff`.
    IsStaff(bool),
    /// `is_superuser`.
    IsSuperuser(bool),
    /// `is_active`.
    IsActive(bool),
    /// `last_login`.
    LastLogin(Option<DateTime<Utc>>),
    /// The whole `extra` map.
    Extra(serde_json::Map<String, Value>),
}

impl UserField {
    /// Apply the change to an in-memory user.
    pub fn apply(&self, user: &mut User) {
        match self.clone() {
            UserField::Username(v) => user.username = v,
            UserField::Email(v) => user.email = v,
            UserField::Password(v) => user.password = v,
            UserField::FirstName(v) => user.first_name = v,
            UserField::LastName(v) => user.last_name = v,
            UserField::IsStaff(v) => user.is_staff = v,
            UserField::IsSuperuser(v) => user.is_superuser = v,
            UserField::IsActive(v) => user.is_active = v,
            UserField::LastLogin(v) => user.last_login = v,
            UserField::Extra(v) => user.extra = v,
        }
    }
}

/// `AnonymousUser`: no id, empty username, no flags, no permissions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AnonymousUser;

/// `auth.Group`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// The primary key.
    #[serde(with = "id_as_string")]
    pub id: Id,
    /// The unique name (150 characters at most).
    pub name: String,
}

/// `contenttypes.ContentType`: a model, named by app label and lower-case model name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContentType {
    /// The primary key.
    #[serde(with = "id_as_string")]
    pub id: Id,
    /// The app label (`auth`).
    pub app_label: String,
    /// The model name (`user`).
    pub model: String,
}

/// `auth.Permission`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Permission {
    /// The primary key.
    #[serde(with = "id_as_string")]
    pub id: Id,
    /// The human name (`Can add user`).
    pub name: String,
    /// The model the permission is about.
    pub content_type: ContentType,
    /// The codename (`add_user`).
    pub codename: String,
}

impl Permission {
    /// The permission string `app_label.codename`; the app label is the content type's.
    pub fn perm_string(&self) -> String {
        format!("{}.{}", self.content_type.app_label, self.codename)
    }
}

/// Split `app_label.codename` at the first dot.
pub fn split_perm(perm: &str) -> Option<(&str, &str)> {
    perm.split_once('.')
        .filter(|(a, c)| !a.is_empty() && !c.is_empty())
}

/// `AbstractBaseUser.normalize_username`: Unicode NFKC.
pub fn normalize_username(username: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    username.nfkc().collect()
}

/// `BaseUserManager.normalize_email`: strip, then lower-case only the domain part.
pub fn normalize_email(email: &str) -> String {
    let email = email.trim();
    match email.rsplit_once('@') {
        Some((local, domain)) => format!("{local}@{}", domain.to_lowercase()),
        None => email.to_owned(),
    }
}

/// Django's `UnicodeUsernameValidator`: `^[\w.@+-]+\Z`, at most 150 characters.
pub fn validate_username(username: &str) -> Result<(), &'static str> {
    if username.is_empty() || username.chars().count() > 150 {
        return Err("Required. 150 characters or fewer. Letters, digits and @/./+/-/_ only.");
    }
    if username
        .chars()
        .all(|c| super::validators::is_python_word_char(c) || ".@+-".contains(c))
    {
        Ok(())
    } else {
        Err(
            "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "pbkdf2_sha256$1200000$xKhVqWoLDzFvGz4tJ3cIbM$c2VjcmV0aGFzaA==";

    #[test]
    fn debug_never_shows_the_password_hash() {
        let new = NewUser::new("alice", "alice@example.com", HASH);
        let user = User {
            id: Id::Int(1),
            password: HASH.to_owned(),
            last_login: None,
            is_superuser: false,
            username: "alice".into(),
            first_name: String::new(),
            last_name: String::new(),
            email: "alice@example.com".into(),
            is_staff: false,
            is_active: true,
            date_joined: Utc::now(),
            extra: serde_json::Map::new(),
            backend: None,
        };
        for text in [format!("{user:?}"), format!("{new:?}")] {
            assert!(!text.contains("xKhVqWoLDzFvGz4tJ3cIbM"), "{text}");
            assert!(!text.contains("c2VjcmV0aGFzaA"), "{text}");
            assert!(text.contains("\"pbkdf2_sha256$..\""), "{text}");
            assert!(text.contains("alice"), "{text}");
        }
        assert_eq!(format!("{:?}", RedactedPassword("!abc")), "\"!..\"");
        assert_eq!(format!("{:?}", RedactedPassword("nodollar")), "\"..\"");
        assert_eq!(format!("{:?}", RedactedPassword("")), "\"\"");
    }
}
