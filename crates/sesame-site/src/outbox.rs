//! Where the site's e-mail goes: Django's `EMAIL_BACKEND` choices `console` (standard output),
//! `file` (one file per message in `EMAIL_FILE_PATH`) and `smtp` (through `lettre`, with
//! Django's `EMAIL_HOST`, `EMAIL_PORT`, `EMAIL_HOST_USER`/`PASSWORD`, `EMAIL_USE_TLS`/`SSL`).

use sesame_core::settings::EmailBackend;
use std::path::PathBuf;

/// One message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    /// `From`.
    pub from: String,
    /// `To`.
    pub to: String,
    /// `Subject`.
    pub subject: String,
    /// The plain-text body.
    pub body: String,
}

impl Email {
    /// The message as RFC 5322 text, as Django's console and file backends write it.
    pub fn to_rfc5322(&self) -> String {
        format!(
            "Content-Type: text/plain; charset=\"utf-8\"\nMIME-Version: 1.0\nContent-Transfer-Encoding: 8bit\nSubject: {}\nFrom: {}\nTo: {}\nDate: {}\n\n{}\n",
            self.subject.replace(['\r', '\n'], " "),
            self.from,
            self.to,
            chrono::Utc::now().to_rfc2822(),
            self.body
        )
    }
}

/// Why a message was not delivered (logged; never shown to the user, who always sees "sent").
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    /// The outbox directory could not be written.
    #[error("cannot write to the outbox {path}: {source}")]
    Io {
        /// The directory.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The SMTP server refused or could not be reached.
    #[error("SMTP delivery failed: {0}")]
    Smtp(String),
}

/// The configured outbox.
#[derive(Clone)]
pub enum Outbox {
    /// Print each message to standard output.
    Console,
    /// Write each message to a file in this directory.
    Directory(PathBuf),
    /// Send through an SMTP server.
    Smtp(lettre::AsyncSmtpTransport<lettre::Tokio1Executor>),
}

impl Outbox {
    /// From `EMAIL_BACKEND` and `EMAIL_FILE_PATH`.
    pub fn from_settings(s: &sesame_core::settings::Settings) -> Result<Self, OutboxError> {
        match s.email.backend {
            EmailBackend::Console => Ok(Outbox::Console),
            EmailBackend::File => Ok(Outbox::Directory(PathBuf::from(&s.email.file_path))),
            EmailBackend::Smtp => {
                use lettre::AsyncSmtpTransport;
                type Transport = AsyncSmtpTransport<lettre::Tokio1Executor>;
                let smtp = |e: lettre::transport::smtp::Error| OutboxError::Smtp(e.to_string());
                let mut builder = if s.email.use_ssl {
                    Transport::relay(&s.email.host).map_err(smtp)?
                } else if s.email.use_tls {
                    Transport::starttls_relay(&s.email.host).map_err(smtp)?
                } else {
                    // Plain SMTP, Django's default (EMAIL_USE_TLS = False): a local relay.
                    Transport::builder_dangerous(&s.email.host)
                };
                builder = builder.port(s.email.port);
                if !s.email.host_user.is_empty() {
                    let credentials = lettre::transport::smtp::authentication::Credentials::new(
                        s.email.host_user.clone(),
                        s.email.host_password.clone(),
                    );
                    builder = builder.credentials(credentials);
                }
                Ok(Outbox::Smtp(builder.build()))
            }
        }
    }

    /// Deliver one message.
    pub async fn send(&self, email: &Email) -> Result<(), OutboxError> {
        match self {
            Outbox::Console => {
                println!("{}\n{}", email.to_rfc5322(), "-".repeat(79));
                Ok(())
            }
            Outbox::Directory(dir) => {
                let io = |source| OutboxError::Io {
                    path: dir.display().to_string(),
                    source,
                };
                tokio::fs::create_dir_all(dir).await.map_err(io)?;
                let name = format!(
                    "{}-{}.eml",
                    chrono::Utc::now().format("%Y%m%d-%H%M%S%.6f"),
                    sesame_core::crypto::get_random_string(
                        8,
                        "abcdefghijklmnopqrstuvwxyz0123456789"
                    )
                );
                tokio::fs::write(dir.join(name), email.to_rfc5322())
                    .await
                    .map_err(io)
            }
            Outbox::Smtp(transport) => {
                use lettre::AsyncTransport;
                let bad = |e: &dyn std::fmt::Display| OutboxError::Smtp(e.to_string());
                let message = lettre::Message::builder()
                    .from(email.from.parse().map_err(|e| bad(&e))?)
                    .to(email.to.parse().map_err(|e| bad(&e))?)
                    .subject(email.subject.replace(['\r', '\n'], " "))
                    .header(lettre::message::header::ContentType::TEXT_PLAIN)
                    .body(email.body.clone())
                    .map_err(|e| bad(&e))?;
                transport.send(message).await.map(drop).map_err(|e| bad(&e))
            }
        }
    }
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outbox::Console => f.write_str("Outbox::Console"),
            Outbox::Directory(d) => write!(f, "Outbox::Directory({})", d.display()),
            Outbox::Smtp(_) => f.write_str("Outbox::Smtp"),
        }
    }
}
