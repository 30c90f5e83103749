//! The `sesame` command: Django-style management commands, and (as the web layer lands) the
//! ready-made site.
//!
//! Configuration comes from `sesame.toml` (or `--config`), overridden by `SESAME_<NAME>`
//! environment variables, under Django's setting names.

use clap::{Parser, Subcommand};
use sesame::core::auth::hashers::{HashError, Hashers};
use sesame::core::session::SessionCodec;
use sesame::core::settings::Settings;
use std::io::{BufRead, IsTerminal};
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
    /// Password tools.
    #[command(subcommand)]
    Password(PasswordCommand),
    /// Session tools.
    #[command(subcommand)]
    Session(SessionCommand),
}

#[derive(Subcommand, Debug)]
enum PasswordCommand {
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

#[derive(Subcommand, Debug)]
enum SessionCommand {
    /// Decode a `session_data` string and print the dict as JSON (needs SESAME_SECRET_KEY).
    Decode {
        /// The encoded `session_data`.
        data: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SESAME_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let settings = match Settings::load(&cli.config) {
        Ok(s) => s,
        Err(e) => return fail(2, &e.to_string()),
    };
    match cli.command {
        Command::Serve => fail(
            1,
            "the ready-made site is not built yet (it arrives with the web layer); \
             `sesame password` and `sesame session` work now",
        ),
        Command::Password(cmd) => password(cmd, &settings),
        Command::Session(SessionCommand::Decode { data }) => session_decode(&data, &settings),
    }
}

fn fail(code: u8, message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(code)
}

fn hashers(settings: &Settings) -> Result<Hashers, HashError> {
    Hashers::from_settings(settings)
}

fn password(cmd: PasswordCommand, settings: &Settings) -> ExitCode {
    let hashers = match hashers(settings) {
        Ok(h) => h,
        Err(e) => return fail(2, &e.to_string()),
    };
    match cmd {
        PasswordCommand::Hash {
            password,
            algorithm,
            salt,
        } => {
            let password = match password {
                Some(p) => p,
                None => {
                    if std::io::stdin().is_terminal() {
                        eprint!("Password: ");
                    }
                    let mut line = String::new();
                    if let Err(e) = std::io::stdin().lock().read_line(&mut line) {
                        return fail(2, &format!("cannot read the password: {e}"));
                    }
                    line.trim_end_matches(['\r', '\n']).to_owned()
                }
            };
            match hashers.make_password_with(Some(&password), salt.as_deref(), algorithm.as_deref())
            {
                Ok(encoded) => {
                    println!("{encoded}");
                    ExitCode::SUCCESS
                }
                Err(e) => fail(2, &e.to_string()),
            }
        }
        PasswordCommand::Check { encoded, password } => {
            if hashers.check_password(&password, &encoded) {
                println!("match");
                ExitCode::SUCCESS
            } else {
                println!("no match");
                ExitCode::from(1)
            }
        }
    }
}

fn session_decode(data: &str, settings: &Settings) -> ExitCode {
    if settings.secret_key.is_empty() {
        return fail(
            2,
            "SESAME_SECRET_KEY is not set (nor secret_key in the configuration)",
        );
    }
    match SessionCodec::from_settings(settings).try_decode(data.trim()) {
        Ok(map) => match serde_json::to_string_pretty(&map) {
            Ok(text) => {
                println!("{text}");
                ExitCode::SUCCESS
            }
            Err(e) => fail(1, &e.to_string()),
        },
        Err(e) if e.is_bad_signature() => fail(
            1,
            &format!(
                "the session data does not verify ({e}): wrong SECRET_KEY or SECRET_KEY_FALLBACKS, \
                 another key salt, or tampered data"
            ),
        ),
        Err(e) => fail(1, &e.to_string()),
    }
}
