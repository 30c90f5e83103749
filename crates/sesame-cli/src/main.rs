//! The `sesame` command: Django-style management commands over the configured stores, and
//! (as the web layer lands) the ready-made site.
//!
//! Configuration comes from `sesame.toml` (or `--config`), overridden by `SESAME_<NAME>`
//! environment variables, under Django's setting names. Exit codes: 0 success, 1 failure,
//! 2 bad usage or configuration.

mod context;
mod serve;
mod sessions;
mod users;

use clap::{Parser, Subcommand};
use sesame::core::auth::hashers::Hashers;
use sesame::core::settings::Settings;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "sesame",
    version,
    about = "Django's sessions and authentication, in Rust"
)]
struct Cli {
    /// The configuration file.
    #[arg(
        long,
        global = true,
        env = "SESAME_CONFIG",
        default_value = "sesame.toml"
    )]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve the ready-made site.
    Serve,
    /// Create Django's tables (or check an existing Django database) and the default permissions.
    Migrate,
    /// Validate the configuration and reach the stores.
    Check,
    /// Create a superuser (non-interactive with --noinput and SESAME_SUPERUSER_PASSWORD).
    Createsuperuser {
        /// Do not prompt.
        #[arg(long)]
        noinput: bool,
        /// The username.
        #[arg(long)]
        username: Option<String>,
        /// The e-mail address.
        #[arg(long)]
        email: Option<String>,
    },
    /// Change a user's password (prompts twice; three attempts).
    Changepassword {
        /// The user (default: $USER).
        username: Option<String>,
    },
    /// Delete expired sessions, in batches, with a progress bar.
    Clearsessions,
    /// Users.
    #[command(subcommand)]
    User(UserCommand),
    /// Groups.
    #[command(subcommand)]
    Group(GroupCommand),
    /// Permissions.
    #[command(subcommand)]
    Perm(PermCommand),
    /// Password tools.
    #[command(subcommand)]
    Password(PasswordCommand),
    /// Session tools.
    #[command(subcommand)]
    Session(SessionCommand),
    /// MongoDB tools.
    #[command(subcommand)]
    Mongo(MongoCommand),
}

/// `sesame mongo ...`
#[derive(Subcommand, Debug)]
pub enum MongoCommand {
    /// Import users from the legacy `mango` layout (collections `users` and `sessions`) into
    /// Django's collections. Old hashes are kept and rehashed at the next login; pickled
    /// sessions are not imported. Safe to run twice.
    ImportMango {
        /// The legacy users collection.
        #[arg(long, default_value = "users")]
        users: String,
        /// The legacy sessions collection.
        #[arg(long, default_value = "sessions")]
        sessions: String,
    },
}

/// `sesame user ...`
#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// List users by id.
    List {
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: u64,
        /// Skip this many.
        #[arg(long, default_value_t = 0)]
        offset: u64,
    },
    /// Show one user as JSON (without the password hash).
    Show {
        /// The username.
        username: String,
    },
    /// Create a user; the password comes from SESAME_USER_PASSWORD or a prompt.
    Create {
        /// The username.
        username: String,
        /// The e-mail address.
        #[arg(long)]
        email: Option<String>,
        /// Staff status.
        #[arg(long)]
        staff: bool,
        /// Superuser status (implies --staff).
        #[arg(long)]
        superuser: bool,
        /// Create the user inactive.
        #[arg(long)]
        inactive: bool,
        /// Give the user an unusable password.
        #[arg(long)]
        no_password: bool,
    },
    /// Delete a user (and its group and permission links).
    Delete {
        /// The username.
        username: String,
    },
    /// Mark a user active.
    Activate {
        /// The username.
        username: String,
    },
    /// Mark a user inactive: it can no longer log in, and its sessions end.
    Deactivate {
        /// The username.
        username: String,
    },
}

/// `sesame group ...`
#[derive(Subcommand, Debug)]
pub enum GroupCommand {
    /// List groups.
    List,
    /// Create a group.
    Create {
        /// The name.
        name: String,
    },
    /// Put a user in a group.
    AddUser {
        /// The group.
        group: String,
        /// The username.
        username: String,
    },
    /// Take a user out of a group.
    RemoveUser {
        /// The group.
        group: String,
        /// The username.
        username: String,
    },
    /// Give a group a permission (app_label.codename).
    Grant {
        /// The group.
        group: String,
        /// The permission, e.g. auth.add_user.
        perm: String,
    },
    /// Take a permission from a group.
    Revoke {
        /// The group.
        group: String,
        /// The permission.
        perm: String,
    },
}

/// `sesame perm ...`
#[derive(Subcommand, Debug)]
pub enum PermCommand {
    /// List every permission, or a user's effective permissions.
    List {
        /// Only this user's permissions (user ∪ groups; all for an active superuser).
        #[arg(long)]
        username: Option<String>,
    },
    /// Give a user a permission directly.
    Grant {
        /// The username.
        username: String,
        /// The permission, e.g. auth.add_user.
        perm: String,
    },
    /// Take a direct permission from a user.
    Revoke {
        /// The username.
        username: String,
        /// The permission.
        perm: String,
    },
    /// Exit 0 if the user has the permission (by Django's rules), 1 otherwise.
    Check {
        /// The username.
        username: String,
        /// The permission.
        perm: String,
    },
}

/// `sesame password ...`
#[derive(Subcommand, Debug)]
pub enum PasswordCommand {
    /// Hash a password with the preferred hasher (or --algorithm). Without --password, the
    /// password is read from standard input (one line), so it stays out of shell history.
    Hash {
        /// The password.
        #[arg(long)]
        password: Option<String>,
        /// A configured algorithm, e.g. `argon2`.
        #[arg(long)]
        algorithm: Option<String>,
        /// An explicit salt (for reproducible output).
        #[arg(long)]
        salt: Option<String>,
    },
    /// Check a password against an encoded hash: exit 0 on a match, 1 otherwise.
    Check {
        /// The stored hash, e.g. `pbkdf2_sha256$1000000$...`.
        #[arg(long)]
        encoded: String,
        /// The password to check.
        #[arg(long)]
        password: String,
    },
}

/// `sesame session ...`
#[derive(Subcommand, Debug)]
pub enum SessionCommand {
    /// List live session keys with their expiry.
    List {
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// Print a stored session's dict as JSON.
    Show {
        /// The session key.
        key: String,
    },
    /// Delete a stored session.
    Delete {
        /// The session key.
        key: String,
    },
    /// Decode a `session_data` string and print the dict as JSON (needs SESAME_SECRET_KEY).
    Decode {
        /// The encoded `session_data`.
        data: String,
    },
}

/// A command's failure: the message and the exit code.
#[derive(Debug)]
pub struct CliError {
    code: u8,
    message: Option<String>,
}

impl CliError {
    /// Exit 1 with a message.
    pub fn runtime(message: impl Into<String>) -> Self {
        Self {
            code: 1,
            message: Some(message.into()),
        }
    }

    /// Exit 2 (bad usage or configuration) with a message.
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            code: 2,
            message: Some(message.into()),
        }
    }

    /// Exit with `code` and no message (the output already said it).
    pub fn silent(code: u8) -> Self {
        Self {
            code,
            message: None,
        }
    }
}

/// Read a password: from the terminal without echo, or one line of standard input.
pub fn prompt_password(prompt: &str) -> Result<String, CliError> {
    if std::io::stdin().is_terminal() {
        rpassword::prompt_password(prompt)
            .map_err(|e| CliError::runtime(format!("cannot read the password: {e}")))
    } else {
        read_stdin_line()
    }
}

/// Read one line: prompted on a terminal, else from standard input.
pub fn prompt_line(prompt: &str) -> Result<String, CliError> {
    if std::io::stdin().is_terminal() {
        eprint!("{prompt}");
        let _ = std::io::stderr().flush();
    }
    read_stdin_line()
}

fn read_stdin_line() -> Result<String, CliError> {
    let mut line = String::new();
    match std::io::stdin().lock().read_line(&mut line) {
        Ok(0) => Err(CliError::runtime("no input (standard input is closed)")),
        Ok(_) => Ok(line.trim_end_matches(['\r', '\n']).to_owned()),
        Err(e) => Err(CliError::runtime(format!(
            "cannot read standard input: {e}"
        ))),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // `serve` logs requests at info; the management commands only warnings.
    let default_level = if matches!(cli.command, Command::Serve) {
        "info"
    } else {
        "warn"
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SESAME_LOG")
                .unwrap_or_else(|_| default_level.into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    // A mistyped SESAME_* variable is otherwise ignored, and the protection it meant stays off.
    for warning in Settings::unknown_env_warnings(std::env::vars()) {
        eprintln!("warning: {warning}");
    }
    let result = Settings::load(&cli.config)
        .map_err(|e| CliError::usage(e.to_string()))
        .and_then(|settings| run(cli.command, settings));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if let Some(m) = e.message {
                eprintln!("error: {m}");
            }
            ExitCode::from(e.code)
        }
    }
}

fn run(command: Command, settings: Settings) -> Result<(), CliError> {
    match command {
        Command::Serve => block_on(serve::serve(settings)),
        Command::Password(cmd) => password(cmd, &settings),
        Command::Session(SessionCommand::Decode { data }) => block_on(sessions::session(
            None,
            &settings,
            SessionCommand::Decode { data },
        )),
        other => block_on(async move {
            let need_schema =
                !matches!(other, Command::Migrate | Command::Check | Command::Mongo(_));
            let stores = context::open(&settings, need_schema).await?;
            match other {
                Command::Migrate => migrate(&stores).await,
                Command::Check => check(&stores, &settings).await,
                Command::Createsuperuser {
                    noinput,
                    username,
                    email,
                } => users::createsuperuser(&stores, &settings, noinput, username, email).await,
                Command::Changepassword { username } => {
                    users::changepassword(&stores, &settings, username).await
                }
                Command::Clearsessions => sessions::clearsessions(&stores).await,
                Command::User(cmd) => users::user(&stores, &settings, cmd).await,
                Command::Group(cmd) => users::group(&stores, cmd).await,
                Command::Perm(cmd) => users::perm(&stores, cmd).await,
                Command::Session(cmd) => sessions::session(Some(&stores), &settings, cmd).await,
                Command::Mongo(MongoCommand::ImportMango { users, sessions }) => {
                    users::import_mango(&stores, &settings, users, sessions).await
                }
                Command::Serve | Command::Password(_) => Ok(()),
            }
        }),
    }
}

fn block_on<F: std::future::Future<Output = Result<(), CliError>>>(f: F) -> Result<(), CliError> {
    // One worker per CPU this process may run on (tokio's default, which follows the CPU
    // affinity mask): more workers than CPUs only wake each other up.
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::runtime(format!("cannot start the runtime: {e}")))?
        .block_on(f)
}

async fn migrate(stores: &context::Stores) -> Result<(), CliError> {
    let db = match &stores.db {
        context::Database::Sql(db) => db,
        context::Database::Mongo(db) => return migrate_mongo(db, stores).await,
    };
    let report = sesame::sql::migrate(db)
        .await
        .map_err(|e| CliError::runtime(e.to_string()))?;
    if report.created_schema {
        println!(
            "Created Django's tables on {} and recorded {} migrations in django_migrations.",
            db.backend().name(),
            report.recorded_migrations
        );
    } else {
        println!("Django's tables are already there; the schema was left as it is.");
    }
    if report.created_extra_table {
        println!(
            "Created {} (profile fields beyond Django's).",
            sesame::sql::EXTRA_TABLE
        );
    }
    if report.created_throttle_table {
        println!(
            "Created {} (the login throttle's counters, shared by every instance).",
            sesame::sql::THROTTLE_TABLE
        );
    }
    println!(
        "Created {} missing default permission(s).",
        report.created_permissions
    );
    Ok(())
}

async fn migrate_mongo(
    db: &sesame::mongodb::MongoDb,
    stores: &context::Stores,
) -> Result<(), CliError> {
    let report = sesame::mongodb::migrate(db)
        .await
        .map_err(|e| CliError::runtime(e.to_string()))?;
    if report.created.is_empty() {
        println!("Every index is already there.");
    } else {
        println!("Created {} index(es):", report.created.len());
        for name in &report.created {
            println!("  {name}");
        }
    }
    if report.ttl_converted {
        println!("Turned the expire_date index into a TTL index (expireAfterSeconds: 0).");
    }
    if report.created_throttle_index {
        println!(
            "Created the TTL index {} of the login throttle's counters.",
            sesame::mongodb::THROTTLE_TTL_INDEX
        );
    }
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    let before = stores
        .auth
        .list_permissions()
        .await
        .map_err(|e| CliError::runtime(e.to_string()))?
        .len();
    sesame::core::auth::store::create_default_permissions(stores.auth.as_ref())
        .await
        .map_err(|e| CliError::runtime(e.to_string()))?;
    let created = stores
        .auth
        .list_permissions()
        .await
        .map_err(|e| CliError::runtime(e.to_string()))?
        .len()
        .saturating_sub(before);
    println!("Created {created} missing default permission(s).");
    Ok(())
}

async fn check(stores: &context::Stores, settings: &Settings) -> Result<(), CliError> {
    let mut problems = Vec::new();
    if settings.secret_key.is_empty() {
        problems.push("SECRET_KEY is empty: sessions cannot be signed".to_owned());
    }
    if let Err(e) = Hashers::from_settings(settings) {
        problems.push(e.to_string());
    }
    if let Err(e) = sesame::core::auth::validators::PasswordValidators::from_settings(settings) {
        problems.push(e);
    }
    match &stores.db {
        context::Database::Sql(db) => match sesame::sql::schema_state(db).await {
            Ok(sesame::sql::SchemaState::Complete) => {
                if let Err(e) = stores.auth.list_users(0, 1).await {
                    problems.push(format!("the database does not answer: {e}"));
                }
            }
            Ok(other) => problems.push(format!(
                "the schema is not ready ({other:?}): run `sesame migrate`"
            )),
            Err(e) => problems.push(format!("the database does not answer: {e}")),
        },
        context::Database::Mongo(db) => match sesame::mongodb::check_indexes(db).await {
            Ok(found) => {
                for p in found {
                    if p.is_tolerable() {
                        eprintln!("warning: {p}");
                    } else {
                        problems.push(format!("{p}: run `sesame migrate`"));
                    }
                }
            }
            Err(e) => problems.push(format!("the database does not answer: {e}")),
        },
    }
    if problems.is_empty() {
        println!("System check identified no issues.");
        Ok(())
    } else {
        Err(CliError::runtime(problems.join("\n")))
    }
}

fn password(cmd: PasswordCommand, settings: &Settings) -> Result<(), CliError> {
    let hashers = Hashers::from_settings(settings).map_err(|e| CliError::usage(e.to_string()))?;
    match cmd {
        PasswordCommand::Hash {
            password,
            algorithm,
            salt,
        } => {
            let password = match password {
                Some(p) => p,
                None => prompt_password("Password: ")?,
            };
            let encoded = hashers
                .make_password_with(Some(&password), salt.as_deref(), algorithm.as_deref())
                .map_err(|e| CliError::usage(e.to_string()))?;
            println!("{encoded}");
            Ok(())
        }
        PasswordCommand::Check { encoded, password } => {
            if hashers.check_password(&password, &encoded) {
                println!("match");
                Ok(())
            } else {
                println!("no match");
                Err(CliError::silent(1))
            }
        }
    }
}
