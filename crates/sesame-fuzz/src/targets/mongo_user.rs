//! MongoDB user documents -> `User` (`sesame_mongodb`'s reader of `auth_user`), from raw BSON
//! and from documents assembled field by field (ids, dates and flags of every BSON type).
//!
//! Asserts: no panic; a document without `_id` or a string `username` is refused, with one it
//! is read; the user read keeps the document's username.

use crate::Target;
use crate::input::{Input, join};
use sesame_mongodb::fuzzing::user_from_doc;
use sesame_mongodb::mongodb::bson::{Bson, DateTime, Document, doc, oid::ObjectId};

/// The target.
pub const TARGET: Target = Target {
    name: "mongo_user",
    about: "auth_user documents (raw BSON and assembled from typed fields) -> User",
    run,
    seeds,
};

/// A BSON value of a type the input picks, for any field.
fn value(input: &mut Input<'_>) -> Option<Bson> {
    let kind = input.byte();
    let n = input.i64();
    let text = input.text();
    Some(match kind % 12 {
        0 => return None,
        1 => Bson::String(text),
        2 => Bson::Int32(n as i32),
        3 => Bson::Int64(n),
        4 => Bson::Double(f64::from_bits(n as u64)),
        5 => Bson::Boolean(n & 1 == 1),
        6 => Bson::DateTime(DateTime::from_millis(n)),
        7 => Bson::Null,
        8 => Bson::ObjectId(ObjectId::from_bytes({
            let mut b = [0u8; 12];
            b[..8].copy_from_slice(&n.to_le_bytes());
            b
        })),
        9 => Bson::Document(doc! { "k": text, "n": n }),
        10 => Bson::Array(vec![Bson::Int64(n), Bson::String(text)]),
        _ => Bson::Decimal128(sesame_mongodb::mongodb::bson::Decimal128::from_bytes(
            [n as u8; 16],
        )),
    })
}

fn run(data: &[u8]) {
    if let Ok(d) = Document::from_reader(data) {
        check(&d);
    }
    let mut input = Input::new(data);
    let mut d = Document::new();
    for field in [
        "_id",
        "username",
        "password",
        "last_login",
        "is_superuser",
        "first_name",
        "last_name",
        "email",
        "is_staff",
        "is_active",
        "date_joined",
        sesame_mongodb::EXTRA_FIELD,
    ] {
        if let Some(v) = value(&mut input) {
            d.insert(field, v);
        }
    }
    check(&d);
}

fn check(d: &Document) {
    let read = user_from_doc(d, "auth_user");
    let has_id = d.contains_key("_id");
    let username = d.get_str("username").ok();
    match (&read, has_id, username) {
        (Ok(user), true, Some(name)) => assert_eq!(user.username, name),
        (Err(_), false, _) | (Err(_), _, None) => {}
        // An `_id` of an unsupported type (a float, a document) is refused too.
        (Err(_), true, Some(_)) => {}
        (Ok(_), _, _) => panic!("read a user from {d:?}"),
    }
}

fn seeds() -> Vec<Vec<u8>> {
    let full = doc! {
        "_id": ObjectId::from_bytes([7; 12]),
        "password": "pbkdf2_sha256$1000000$salt$hash",
        "last_login": DateTime::from_millis(1_700_000_000_000),
        "is_superuser": false,
        "username": "admin",
        "first_name": "",
        "last_name": "",
        "email": "a@example.com",
        "is_staff": 1_i32,
        "is_active": true,
        "date_joined": DateTime::from_millis(i64::MIN),
        "sesame_extra": { "age": 42_i64, "tags": ["a", "b"] },
    };
    let mut raw = Vec::new();
    let _ = full.to_writer(&mut raw);
    vec![
        raw,
        join(&[
            b"\x03",
            b"\x2a",
            b"",
            b"\x01",
            b"",
            b"admin",
            b"\x06",
            b"\xff\xff\xff\xff\xff\xff\xff\x7f",
        ]),
    ]
}
