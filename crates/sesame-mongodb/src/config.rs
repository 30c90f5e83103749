//! Connecting: the URL, the collection names, the kind of user id and the timeouts.

use crate::error::MongoError;
use mongodb::bson::Document;
use mongodb::options::ClientOptions;
use mongodb::{Client, Collection, Database};
use sesame_core::auth::IdKind;
use std::future::IntoFuture;
use std::time::Duration;

/// The collection names. The defaults are Django's table names, which is what
/// django-mongodb-backend uses, so that a Django site and Sesame share one database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collections {
    /// Sessions (`django_session`).
    pub session: String,
    /// Users (`auth_user`).
    pub user: String,
    /// Groups (`auth_group`).
    pub group: String,
    /// Permissions (`auth_permission`).
    pub permission: String,
    /// Content types (`django_content_type`).
    pub content_type: String,
    /// User ↔ group links (`auth_user_groups`).
    pub user_groups: String,
    /// User ↔ permission links (`auth_user_user_permissions`).
    pub user_permissions: String,
    /// Group ↔ permission links (`auth_group_permissions`).
    pub group_permissions: String,
    /// Sesame's sequence numbers for integer user ids (`sesame_counters`).
    pub counters: String,
}

impl Default for Collections {
    fn default() -> Self {
        Self {
            session: "django_session".into(),
            user: "auth_user".into(),
            group: "auth_group".into(),
            permission: "auth_permission".into(),
            content_type: "django_content_type".into(),
            user_groups: "auth_user_groups".into(),
            user_permissions: "auth_user_user_permissions".into(),
            group_permissions: "auth_group_permissions".into(),
            counters: "sesame_counters".into(),
        }
    }
}

/// How the stores connect and lay out their data.
///
/// ```
/// use sesame_mongodb::MongoConfig;
/// use sesame_core::auth::IdKind;
/// let config = MongoConfig::new("mongodb://127.0.0.1:27017/mysite")
///     .with_user_id(IdKind::Int)
///     .with_timeout(std::time::Duration::from_secs(2));
/// assert_eq!(config.collections.user, "auth_user");
/// ```
///
/// `Debug` shows the URL without its password.
#[derive(Clone)]
pub struct MongoConfig {
    /// `mongodb://host:port/dbname[?options]`; the database name is required.
    pub url: String,
    /// Collection names.
    pub collections: Collections,
    /// The kind of user `_id`: ObjectId (the default, as django-mongodb-backend), integers from
    /// the counters collection, or strings chosen by the application (such as the e-mail).
    pub user_id: IdKind,
    /// The longest any one operation may take, including finding a server. An outage or a
    /// stalled server becomes a typed error after this long, never a hang.
    pub timeout: Duration,
    /// Keep e-mail addresses unique (a unique index on non-empty `email`). Django does not;
    /// sites that log in by e-mail want it.
    pub unique_email: bool,
}

impl std::fmt::Debug for MongoConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MongoConfig")
            .field("url", &sesame_core::settings::redact_url(&self.url))
            .field("collections", &self.collections)
            .field("user_id", &self.user_id)
            .field("timeout", &self.timeout)
            .field("unique_email", &self.unique_email)
            .finish()
    }
}

impl MongoConfig {
    /// The defaults for a URL: Django's collection names, ObjectId users, a 5 s timeout.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            collections: Collections::default(),
            user_id: IdKind::ObjectId,
            timeout: Duration::from_secs(5),
            unique_email: false,
        }
    }

    /// Choose the kind of user id.
    pub fn with_user_id(mut self, kind: IdKind) -> Self {
        self.user_id = kind;
        self
    }

    /// Set the per-operation timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Rename the collections.
    pub fn with_collections(mut self, collections: Collections) -> Self {
        self.collections = collections;
        self
    }

    /// Keep e-mail addresses unique.
    pub fn with_unique_email(mut self, unique: bool) -> Self {
        self.unique_email = unique;
        self
    }

    /// Parse the URL and build the client. The driver connects lazily, so this succeeds while
    /// the server is down; the first operation then reports it within the timeout.
    pub async fn connect(self) -> Result<MongoDb, MongoError> {
        self.connect_with(|_| {}).await
    }

    /// [`connect`](Self::connect), letting the application adjust the driver's options
    /// (TLS files, command monitoring, pool sizes) before the client is built.
    pub async fn connect_with(
        self,
        customize: impl FnOnce(&mut ClientOptions),
    ) -> Result<MongoDb, MongoError> {
        let mut options = ClientOptions::parse(&self.url)
            .await
            .map_err(MongoError::InvalidUrl)?;
        let name = options
            .default_database
            .clone()
            .filter(|n| !n.is_empty())
            .ok_or(MongoError::NoDatabase)?;
        options.server_selection_timeout = Some(self.timeout);
        options.connect_timeout = Some(options.connect_timeout.unwrap_or(self.timeout));
        if options.app_name.is_none() {
            options.app_name = Some("sesame".into());
        }
        customize(&mut options);
        let client = Client::with_options(options).map_err(MongoError::InvalidUrl)?;
        let database = client.database(&name);
        Ok(MongoDb {
            client,
            database,
            config: std::sync::Arc::new(self),
        })
    }
}

/// A connection to one database with Sesame's configuration: what the stores share.
/// Cloning is cheap (the driver's client is a handle to one connection pool).
#[derive(Debug, Clone)]
pub struct MongoDb {
    client: Client,
    database: Database,
    config: std::sync::Arc<MongoConfig>,
}

impl MongoDb {
    /// The driver's database handle, for an application's own queries on the same collections
    /// (what mango's `db.users.find()` offered).
    ///
    /// ```no_run
    /// # async fn demo(db: sesame_mongodb::MongoDb) -> mongodb::error::Result<()> {
    /// use mongodb::bson::{doc, Document};
    /// let staff = db.database().collection::<Document>("auth_user")
    ///     .count_documents(doc! {"is_staff": true}).await?;
    /// # Ok(()) }
    /// ```
    pub fn database(&self) -> &Database {
        &self.database
    }

    /// The driver's client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The configuration.
    pub fn config(&self) -> &MongoConfig {
        &self.config
    }

    /// The collection names.
    pub fn collections(&self) -> &Collections {
        &self.config.collections
    }

    /// A collection of raw documents by name.
    pub(crate) fn coll(&self, name: &str) -> Collection<Document> {
        self.database.collection(name)
    }

    /// Run one driver operation under the configured timeout. The driver's own
    /// server-selection timeout covers an absent server; this also covers one that accepts
    /// connections and never answers.
    pub(crate) async fn run<T, F>(&self, op: F) -> Result<T, MongoError>
    where
        F: IntoFuture<Output = mongodb::error::Result<T>>,
    {
        match tokio::time::timeout(self.config.timeout, op.into_future()).await {
            Ok(result) => result.map_err(MongoError::from),
            Err(_) => Err(MongoError::Timeout(self.config.timeout)),
        }
    }

    /// `ping`: whether the server answers (for `/healthz` and `sesame check`).
    pub async fn ping(&self) -> Result<(), MongoError> {
        self.run(self.database.run_command(mongodb::bson::doc! {"ping": 1}))
            .await
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_password() {
        let config = MongoConfig::new("mongodb://site:hunter2@db.internal:27017/mysite");
        let debug = format!("{config:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(
            debug.contains("mongodb://site:***@db.internal:27017/mysite"),
            "{debug}"
        );
        assert_eq!(
            sesame_core::settings::redact_url("mongodb://127.0.0.1:27017/x"),
            "mongodb://127.0.0.1:27017/x"
        );
    }
}
