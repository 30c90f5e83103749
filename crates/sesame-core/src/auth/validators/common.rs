//! Django 5.2's common-password list (19,640 entries), embedded gzip-compressed exactly as
//! Django ships it (`django/contrib/auth/common-passwords.txt.gz`, BSD-licensed data from
//! Royce Williams' list, copied by `scripts/django-vectors`).

use flate2::read::GzDecoder;
use std::collections::HashSet;
use std::io::Read;
use std::sync::OnceLock;

static LIST_GZ: &[u8] = include_bytes!("../../../data/common-passwords.txt.gz");

/// The list, decompressed on first use.
pub fn common_passwords() -> &'static HashSet<String> {
    static SET: OnceLock<HashSet<String>> = OnceLock::new();
    SET.get_or_init(|| {
        let mut text = String::new();
        // The data is compiled in and checked by a test; a failure here is a build defect.
        if GzDecoder::new(LIST_GZ).read_to_string(&mut text).is_err() {
            tracing::error!("the embedded common-password list is corrupt");
        }
        text.lines()
            .map(|l| l.trim().to_owned())
            .filter(|l| !l.is_empty())
            .collect()
    })
}

/// `password.lower().strip() in the list`.
pub fn is_common_password(password: &str) -> bool {
    common_passwords().contains(password.to_lowercase().trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_is_django_52s() {
        let mut text = String::new();
        GzDecoder::new(LIST_GZ).read_to_string(&mut text).unwrap();
        use sha2::Digest;
        assert_eq!(
            hex::encode(sha2::Sha256::digest(text.as_bytes())),
            "29ca0fa5303165f012f3e9775e3e95a3071cdd59f219973ec1cbb308d0214a6f"
        );
        assert_eq!(common_passwords().len(), 19_640);
        assert!(is_common_password("   PassWord  "));
        assert!(!is_common_password("Xy7#kq92LmPz"));
    }
}
