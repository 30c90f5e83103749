//! Criterion benches of Sesame's Django-compatible primitives, on the inputs of
//! `bench/inputs.json` (the ones `bench/python_side.py` gives Django):
//!
//! - `signing`: `Signer::sign` / `unsign` of a short string, `dumps` / `loads` of a small dict;
//! - `session`: `SessionCodec::encode` / `decode` of a three-key login session and of a ~2 KB
//!   session that compresses;
//! - `hashers`: `make_password` (with a fixed salt) and `check_password` for every hasher at
//!   Django 5.2's default parameters, through `Hashers` as Django goes through its
//!   `PASSWORD_HASHERS`.
//!
//! The benchmark ids (`signing/dumps`, `hashers/argon2/make_password`, ...) are the ones
//! `python_side.py` prints, so that `bench/report.py` can pair them.
#![allow(
    clippy::expect_used,
    reason = "a bench whose setup fails must stop, not measure something else"
)]

use criterion::{Criterion, SamplingMode, criterion_main};
use sesame_bench::Inputs;
use sesame_core::auth::hashers::Hashers;
use sesame_core::session::SessionCodec;
use sesame_core::signing::{Signer, dumps, loads};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// `signing.dumps`' default salt.
const DUMPS_SALT: &str = "django.core.signing";

fn inputs() -> Inputs {
    Inputs::load().expect("bench/inputs.json parses")
}

fn signing(c: &mut Criterion) {
    let inputs = inputs();
    let key = inputs.secret_key.as_str();
    let mut group = c.benchmark_group("signing");

    let signer = Signer::new(key).with_salt(inputs.signer_salt.as_str());
    let signed = signer.sign(&inputs.signer_value);
    assert_eq!(
        signer.unsign(&signed).ok(),
        Some(inputs.signer_value.as_str())
    );
    group.bench_function("signer_sign", |b| {
        b.iter(|| signer.sign(black_box(&inputs.signer_value)))
    });
    group.bench_function("signer_unsign", |b| {
        b.iter(|| signer.unsign(black_box(&signed)).is_ok())
    });

    let dumped = dumps(&inputs.small_object, key, DUMPS_SALT, false);
    let loaded = loads(&dumped, key, &[] as &[&str], DUMPS_SALT, None).expect("loads(dumps(x))");
    assert_eq!(loaded, inputs.small_object);
    group.bench_function("dumps", |b| {
        b.iter(|| dumps(black_box(&inputs.small_object), key, DUMPS_SALT, false))
    });
    group.bench_function("loads", |b| {
        b.iter(|| loads(black_box(&dumped), key, &[] as &[&str], DUMPS_SALT, None).is_ok())
    });
    group.finish();
}

fn session(c: &mut Criterion) {
    let inputs = inputs();
    let codec = SessionCodec::new(&inputs.secret_key);
    let mut group = c.benchmark_group("session");
    for (name, data) in [
        ("login", &inputs.login_session),
        ("large", &inputs.large_session),
    ] {
        let encoded = codec.encode(data);
        assert_eq!(&codec.decode(&encoded), data, "session {name} round-trips");
        group.bench_function(format!("encode_{name}"), |b| {
            b.iter(|| codec.encode(black_box(data)))
        });
        group.bench_function(format!("decode_{name}"), |b| {
            b.iter(|| codec.decode(black_box(&encoded)))
        });
    }
    group.finish();
}

fn hashers(c: &mut Criterion) {
    let inputs = inputs();
    let hashers = Hashers::from_names(&inputs.hashers, "5.2").expect("Django 5.2 hashers");
    let password = inputs.password.as_str();
    let mut group = c.benchmark_group("hashers");
    // The slow hashers take 0.1 to 0.6 s a call: ten samples of one call each.
    group.sample_size(10).sampling_mode(SamplingMode::Flat);
    for algorithm in &inputs.hashers {
        let algorithm = algorithm.as_str();
        let salt = inputs.salt_for(algorithm);
        let make = || hashers.make_password_with(Some(password), Some(salt), Some(algorithm));

        let start = Instant::now();
        let encoded = make().expect("make_password");
        let once = start.elapsed();
        assert!(encoded.starts_with(algorithm), "{encoded}");
        assert!(
            hashers.check_password(password, &encoded),
            "{algorithm} verifies"
        );
        // Enough time for the ten samples (criterion warns otherwise), at least one second.
        group.measurement_time((once * 12).max(Duration::from_secs(1)));

        group.bench_function(format!("{algorithm}/make_password"), |b| b.iter(make));
        group.bench_function(format!("{algorithm}/check_password"), |b| {
            b.iter(|| hashers.check_password(black_box(password), black_box(&encoded)))
        });
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

/// The group lives in a private module: `criterion_group!` makes an undocumented `pub fn`.
mod group {
    use super::{config, hashers, session, signing};
    use criterion::criterion_group;

    criterion_group! {
        name = benches;
        config = config();
        targets = signing, session, hashers
    }
}
criterion_main!(group::benches);
