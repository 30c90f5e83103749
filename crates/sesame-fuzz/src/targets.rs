//! One module per fuzz target; each exports `TARGET` (see [`crate::TARGETS`]).

pub mod cookie;
pub mod csrf;
pub mod form;
pub mod host;
pub mod mongo_user;
pub mod next;
pub mod pickle;
pub mod pyjson;
pub mod reset_token;
pub mod session_data;
pub mod signing;

/// The secret key of every target that signs (any key will do: the targets check what the
/// code does with a key, not the key).
pub(crate) const KEY: &str = "django-insecure-fuzz-key";
/// A rotated-out key, in `SECRET_KEY_FALLBACKS`.
pub(crate) const OLD_KEY: &str = "django-insecure-old-fuzz-key";
