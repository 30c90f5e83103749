//! Round trips per authenticated request, counted with the driver's command monitoring:
//! the session and its user come in one aggregation, the permissions in one more.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::{TimeDelta, Utc};
use mongodb::event::EventHandler;
use mongodb::event::command::CommandEvent;
use sesame_core::auth::store::{PermissionStore, UserStore};
use sesame_core::auth::{IdKind, NewUser, SESSION_KEY};
use sesame_core::session::{
    SessionCodec, SessionData, SessionRecord, SessionStore, new_session_key,
};
use sesame_mongodb::{
    MongoAuthStore, MongoConfig, MongoSessionStore, MongoSessionWithUser, migrate,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_authenticated_request_costs_two_round_trips() {
    for kind in [IdKind::ObjectId, IdKind::Int, IdKind::Str] {
        let Some(base) = common::base_uri() else {
            return;
        };
        let url = common::with_database(&base, &common::unique_name());
        let commands = Arc::new(AtomicUsize::new(0));
        let counter = commands.clone();
        let db = MongoConfig::new(&url)
            .with_user_id(kind)
            .connect_with(move |o| {
                o.command_event_handler = Some(EventHandler::callback(move |ev: CommandEvent| {
                    if matches!(ev, CommandEvent::Started(_)) {
                        counter.fetch_add(1, Ordering::SeqCst);
                    }
                }));
            })
            .await
            .unwrap();
        migrate(&db).await.unwrap();
        let auth = MongoAuthStore::new(db.clone());
        let sessions = MongoSessionStore::new(db.clone(), SessionCodec::new("k"));
        let alice = auth
            .create_user(NewUser::new("alice", "a@example.com", "x"))
            .await
            .unwrap();
        let add_user = {
            sesame_core::auth::store::create_default_permissions(&auth)
                .await
                .unwrap();
            auth.get_permission("auth", "add_user")
                .await
                .unwrap()
                .unwrap()
        };
        auth.grant_user_permission(&alice.id, &add_user.id)
            .await
            .unwrap();
        let mut data = SessionData::new();
        data.insert(SESSION_KEY.into(), alice.id.to_string().into());
        let key = new_session_key();
        sessions
            .create(
                &key,
                SessionRecord {
                    data: &data,
                    expire_date: Utc::now() + TimeDelta::hours(1),
                },
            )
            .await
            .unwrap();
        let both = MongoSessionWithUser::new(sessions.clone(), auth.clone());

        let before = commands.load(Ordering::SeqCst);
        let (_, user) = both.load(&key).await.unwrap().unwrap();
        assert_eq!(user.map(|u| u.username), Some("alice".into()));
        assert_eq!(
            commands.load(Ordering::SeqCst) - before,
            1,
            "{kind:?}: session + user in one aggregation"
        );

        let before = commands.load(Ordering::SeqCst);
        let perms = auth.get_all_permissions(&alice.id).await.unwrap();
        assert_eq!(perms.into_iter().collect::<Vec<_>>(), ["auth.add_user"]);
        assert_eq!(
            commands.load(Ordering::SeqCst) - before,
            1,
            "{kind:?}: user ∪ group permissions in one aggregation"
        );

        // A session Django wrote has no sesame_user_id: then the user costs a second query.
        db.database()
            .collection::<mongodb::bson::Document>("django_session")
            .update_one(
                mongodb::bson::doc! {"session_key": &key},
                mongodb::bson::doc! {"$unset": {"sesame_user_id": ""}},
            )
            .await
            .unwrap();
        let before = commands.load(Ordering::SeqCst);
        let (_, user) = both.load(&key).await.unwrap().unwrap();
        assert!(user.is_some());
        assert_eq!(
            commands.load(Ordering::SeqCst) - before,
            2,
            "{kind:?}: fallback"
        );
        let _ = db.database().drop().await;
    }
}
