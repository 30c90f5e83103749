//! Primary keys between Sesame's [`Id`] and BSON. Whatever the kind, an id leaves the store as
//! a string (`_auth_user_id`, tokens, `uidb64`) and enters it as a typed BSON value, so that no
//! text from a request can become a query operator.

use crate::error::MongoError;
use mongodb::bson::{Bson, oid};
use sesame_core::auth::store::AuthStoreError;
use sesame_core::auth::{Id, IdKind, ObjectId};

/// The BSON value of an id, checked against the kind the collection uses.
pub(crate) fn to_bson(id: &Id, kind: IdKind) -> Result<Bson, AuthStoreError> {
    match (id, kind) {
        (Id::ObjectId(o), IdKind::ObjectId) => Ok(Bson::ObjectId(oid::ObjectId::from_bytes(o.0))),
        (Id::Int(i), IdKind::Int) => Ok(Bson::Int64(*i)),
        (Id::Str(s), IdKind::Str) => Ok(Bson::String(s.clone())),
        // Ids that arrived as text (a session, a URL) in another spelling of the same kind.
        (other, kind) => Id::parse(&other.to_string(), kind)
            .ok()
            .filter(|parsed| parsed.kind() == kind && parsed != other)
            .map(|parsed| to_bson(&parsed, kind))
            .unwrap_or_else(|| {
                Err(AuthStoreError::InvalidId(format!(
                    "{other}: this store's ids are {kind:?}"
                )))
            }),
    }
}

/// An ObjectId for groups, permissions and content types, which always use ObjectIds.
pub(crate) fn oid_of(id: &Id) -> Result<oid::ObjectId, AuthStoreError> {
    match to_bson(id, IdKind::ObjectId)? {
        Bson::ObjectId(o) => Ok(o),
        _ => Err(AuthStoreError::InvalidId(id.to_string())),
    }
}

/// Sesame's id of a stored `_id` (or foreign key).
pub(crate) fn from_bson(value: &Bson, collection: &str) -> Result<Id, MongoError> {
    match value {
        Bson::ObjectId(o) => Ok(Id::ObjectId(ObjectId(o.bytes()))),
        Bson::Int64(i) => Ok(Id::Int(*i)),
        Bson::Int32(i) => Ok(Id::Int(i64::from(*i))),
        Bson::String(s) => Ok(Id::Str(s.clone())),
        other => Err(MongoError::Malformed {
            collection: collection.to_owned(),
            reason: format!("unsupported _id type {:?}", other.element_type()),
        }),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn ids_round_trip_for_each_kind() {
        let o: Id = Id::parse("6b025aae8899c002583f03e2", IdKind::ObjectId).unwrap();
        for (id, kind) in [
            (o, IdKind::ObjectId),
            (Id::Int(7), IdKind::Int),
            (Id::Str("a@example.com".into()), IdKind::Str),
        ] {
            let b = to_bson(&id, kind).unwrap();
            assert_eq!(from_bson(&b, "t").unwrap(), id);
        }
    }

    #[test]
    fn text_ids_are_parsed_to_the_store_kind() {
        // `_auth_user_id` "42" may have been parsed as a string somewhere on the way.
        assert_eq!(
            to_bson(&Id::Str("42".into()), IdKind::Int).unwrap(),
            Bson::Int64(42)
        );
        assert!(to_bson(&Id::Str("$ne".into()), IdKind::ObjectId).is_err());
        assert!(to_bson(&Id::Int(1), IdKind::ObjectId).is_err());
        // A string store keeps any text as a plain string value, never an operator.
        assert_eq!(
            to_bson(&Id::Str("$ne".into()), IdKind::Str).unwrap(),
            Bson::String("$ne".into())
        );
    }
}
