//! A `redis-server` of a test's own, with AOF on, that the test can kill and start again on
//! the same port and directory, so that what Redis acknowledged before the crash is back
//! after it (as with a persistent production Redis). Never the shared server.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where the tests look for the server.
pub(crate) const REDIS_SERVER: &str = "/usr/bin/redis-server";

/// A persistent redis-server, killed (SIGKILL) when dropped, its directory removed.
pub(crate) struct PersistentRedis {
    pub port: u16,
    pub dir: PathBuf,
    child: Option<Child>,
}

impl PersistentRedis {
    /// Start one on a free port in a fresh directory, or `None` (SKIPPED; a failure under
    /// `CI=true`) when there is no redis-server.
    pub(crate) fn start() -> Option<Self> {
        if !std::path::Path::new(REDIS_SERVER).is_file() {
            super::skip(&format!("{REDIS_SERVER} is not installed"));
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = std::env::temp_dir().join(super::unique_prefix());
        std::fs::create_dir_all(&dir).unwrap();
        let mut server = Self {
            port,
            dir,
            child: None,
        };
        server.restart();
        Some(server)
    }

    /// The URL of this server.
    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Start the server again (after [`kill`](Self::kill)) on the same port and directory.
    pub(crate) fn restart(&mut self) {
        assert!(self.child.is_none(), "already running");
        let child = Command::new(REDIS_SERVER)
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--appendonly", "yes", "--save", ""])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        // Up when it answers PING (it loads the AOF before that).
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(mut c) = redis::Client::open(self.url()).and_then(|c| c.get_connection()) {
                if redis::cmd("PING").query::<String>(&mut c).is_ok() {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL: a crash, not a shutdown. What Redis acknowledged is already in the AOF file.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }
}

impl Drop for PersistentRedis {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
