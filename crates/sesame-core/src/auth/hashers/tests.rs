use super::*;

fn cheap() -> Hashers {
    Hashers::new(vec![
        Arc::new(Pbkdf2Hasher::sha256(1000)),
        Arc::new(Pbkdf2Hasher::sha1(1000)),
        Arc::new(Argon2Hasher {
            memory_cost: 1024,
            time_cost: 1,
            parallelism: 1,
        }),
        Arc::new(BcryptSha256Hasher::with_rounds(4)),
        Arc::new(BcryptHasher::with_rounds(4)),
        Arc::new(ScryptHasher {
            work_factor: 1024,
            block_size: 8,
            parallelism: 1,
        }),
        Arc::new(Md5Hasher),
        Arc::new(Sha1Hasher),
        Arc::new(UnsaltedSha1Hasher),
        Arc::new(UnsaltedMd5Hasher),
    ])
    .unwrap()
}

#[test]
fn round_trip_every_encoding_hasher() {
    let h = cheap();
    for alg in [
        "pbkdf2_sha256",
        "pbkdf2_sha1",
        "argon2",
        "bcrypt_sha256",
        "bcrypt",
        "scrypt",
        "md5",
    ] {
        for pw in ["", "password", "pässwörd-ß-日本 🐍"] {
            let enc = h.make_password_with(Some(pw), None, Some(alg)).unwrap();
            assert!(enc.starts_with(alg), "{enc}");
            assert!(enc.len() <= 128, "{enc}");
            assert!(h.check_password(pw, &enc), "{alg} {pw:?}");
            assert!(!h.check_password(&format!("{pw}x"), &enc), "{alg} {pw:?}");
        }
    }
}

#[test]
fn verify_only_hashers_refuse_to_encode() {
    let h = cheap();
    for alg in ["sha1", "unsalted_sha1", "unsalted_md5"] {
        assert!(matches!(
            h.make_password_with(Some("x"), Some("salt"), Some(alg)),
            Err(HashError::VerifyOnly(_))
        ));
    }
}

#[test]
fn bcrypt_limits() {
    let h = cheap();
    let long = "x".repeat(73);
    assert_eq!(
        h.make_password_with(Some(&long), None, Some("bcrypt")),
        Err(HashError::PasswordTooLong(73))
    );
    assert!(
        h.make_password_with(Some(&"x".repeat(72)), None, Some("bcrypt"))
            .is_ok()
    );
    let enc = h
        .make_password_with(Some(&long), None, Some("bcrypt_sha256"))
        .unwrap();
    assert!(h.check_password(&long, &enc));
    assert!(!h.check_password(&"x".repeat(74), &enc));
}

#[test]
fn identify_and_unusable() {
    let h = cheap();
    assert_eq!(
        h.identify("5f4dcc3b5aa765d61d8327deb882cf99")
            .map(|x| x.algorithm()),
        Some("unsalted_md5")
    );
    assert_eq!(
        h.identify("md5$$5f4dcc3b5aa765d61d8327deb882cf99")
            .map(|x| x.algorithm()),
        Some("unsalted_md5")
    );
    assert_eq!(
        h.identify("sha1$$5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8")
            .map(|x| x.algorithm()),
        Some("unsalted_sha1")
    );
    assert_eq!(h.identify("nope$1$2").map(|x| x.algorithm()), None);
    let unusable = h.make_password(None).unwrap();
    assert_eq!(unusable.len(), 41);
    assert!(!is_password_usable(&unusable));
    assert!(!h.check_password("", &unusable));
    assert!(!h.check_password("", ""));
}

#[test]
fn salts() {
    assert!(must_update_salt("seasalt"));
    assert!(must_update_salt(&"a".repeat(21)));
    assert!(!must_update_salt(&"a".repeat(22)));
    assert_eq!(Pbkdf2Hasher::sha256(1).salt().len(), 22);
    assert!(BcryptHasher::default().salt().starts_with("$2b$12$"));
    assert_eq!(BcryptHasher::default().salt().len(), 29);
    assert_eq!(
        cheap().make_password_with(Some("x"), Some("a$b"), None),
        Err(HashError::InvalidSalt)
    );
    assert_eq!(
        cheap().make_password_with(Some("x"), Some(""), None),
        Err(HashError::InvalidSalt)
    );
}

#[test]
fn must_update_follows_preferred() {
    let h = cheap();
    let sha1 = h
        .make_password_with(Some("pw"), None, Some("pbkdf2_sha1"))
        .unwrap();
    let r = h.verify_password("pw", &sha1);
    assert!(r.valid && r.must_update);
    let fresh = h.make_password(Some("pw")).unwrap();
    assert_eq!(
        h.verify_password("pw", &fresh),
        CheckResult {
            valid: true,
            must_update: false
        }
    );
    let old = Pbkdf2Hasher::sha256(500)
        .encode("pw", "abcdefghijklmnopqrstuv")
        .unwrap();
    assert!(h.verify_password("pw", &old).must_update);
}

#[test]
fn hostile_parameters_fail_closed() {
    let h = cheap();
    for enc in [
        "pbkdf2_sha256$4000000000$salt$xx",
        "pbkdf2_sha256$$salt$xx",
        "pbkdf2_sha256$",
        "argon2$argon2id$v=19$m=4294967295,t=1,p=1$c2FsdHNhbHQ$aGFzaA",
        "argon2$argon2id$v=19$m=1024,t=1$c2FsdHNhbHQ$aGFzaA",
        "scrypt$1073741824$salt$8$1$xx",
        "scrypt$1000$salt$8$1$xx",
        "bcrypt_sha256$$2b$99$abcdefghijklmnopqrstuu",
        "bcrypt$$2b$12$short",
        "md5$$$",
        "$$$$",
    ] {
        assert!(!h.check_password("pw", enc), "{enc}");
    }
}
