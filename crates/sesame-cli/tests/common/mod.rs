//! The real `sesame` binary as a test drives it: a server process, and a small browser
//! (HTTP/1.1 over TCP with a cookie jar and CSRF tokens).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

pub(crate) struct Server {
    pub child: Child,
    pub addr: String,
    pub dir: std::path::PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Server {
    /// Stop the server and return what it wrote to stderr (its log).
    pub(crate) fn stop_and_log(&mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut log = String::new();
        if let Some(mut err) = self.child.stderr.take() {
            let _ = err.read_to_string(&mut log);
        }
        log
    }
}

pub(crate) fn serve() -> Server {
    serve_with(&[])
}

pub(crate) fn serve_with(env: &[(&str, &str)]) -> Server {
    let dir = std::env::temp_dir().join(format!(
        "sesame-site-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sesame"));
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("SESAME_")) {
        cmd.env_remove(k);
    }
    let mut child = cmd
        .arg("serve")
        .current_dir(&dir)
        .env("SESAME_BIND", "127.0.0.1:0")
        .env("SESAME_EMAIL_BACKEND", "file")
        .env("SESAME_PASSWORD_HASHERS", "pbkdf2_sha256,md5")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .to_owned();
    Server { child, addr, dir }
}

#[derive(Debug)]
pub(crate) struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A small browser: HTTP/1.1 over a TCP stream, and a cookie jar.
pub(crate) struct Browser<'a> {
    pub server: &'a Server,
    pub cookies: HashMap<String, String>,
}

impl<'a> Browser<'a> {
    /// A browser with an empty cookie jar.
    pub(crate) fn new(server: &'a Server) -> Self {
        Browser {
            server,
            cookies: HashMap::new(),
        }
    }

    pub(crate) fn request(
        &mut self,
        method: &str,
        path: &str,
        body: &str,
        extra: &[(&str, &str)],
    ) -> Reply {
        let mut s = TcpStream::connect(&self.server.addr).unwrap();
        let cookie = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nConnection: close\r\nContent-Length: {}\r\n",
            body.len()
        );
        // The server's own address, unless the test sends a Host of its own.
        if !extra.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
            req.push_str(&format!("Host: {}\r\n", self.server.addr));
        }
        if !cookie.is_empty() {
            req.push_str(&format!("Cookie: {cookie}\r\n"));
        }
        if method == "POST"
            && !extra
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        {
            req.push_str("Content-Type: application/x-www-form-urlencoded\r\n");
        }
        for (k, v) in extra {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        s.write_all(req.as_bytes()).unwrap();
        s.write_all(body.as_bytes()).unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap();
        let text = String::from_utf8_lossy(&raw).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let mut lines = head.lines();
        let status = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(": "))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        for (k, v) in &headers {
            if k.eq_ignore_ascii_case("set-cookie") {
                let (name, value) = v.split(';').next().unwrap().split_once('=').unwrap();
                if v.contains("Max-Age=0") {
                    self.cookies.remove(name);
                } else {
                    self.cookies.insert(name.to_owned(), value.to_owned());
                }
            }
        }
        Reply {
            status,
            headers,
            body: body.to_owned(),
        }
    }

    /// The site's signup form, with the CSRF token of its page.
    pub(crate) fn signup(&mut self, username: &str, email: &str, password: &str) -> Reply {
        self.post(
            "/accounts/signup/",
            &[
                ("username", username),
                ("email", email),
                ("password1", password),
                ("password2", password),
            ],
        )
    }

    /// `/api/whoami` as JSON.
    pub(crate) fn whoami(&mut self) -> serde_json::Value {
        serde_json::from_str(&self.get("/api/whoami").body).unwrap()
    }

    pub(crate) fn get(&mut self, path: &str) -> Reply {
        self.request("GET", path, "", &[])
    }

    pub(crate) fn token(&mut self, path: &str) -> String {
        let page = self.get(path).body;
        let at = page
            .find("name=\"csrfmiddlewaretoken\" value=\"")
            .expect("a CSRF field")
            + 34;
        page[at..at + 64].to_owned()
    }

    pub(crate) fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Reply {
        self.post_with(path, form, &[])
    }

    /// `post` with extra headers (a `Host`, a proxy's `X-Forwarded-Proto`, a `Referer`).
    pub(crate) fn post_with(
        &mut self,
        path: &str,
        form: &[(&str, &str)],
        extra: &[(&str, &str)],
    ) -> Reply {
        let token = self.token(if path.starts_with("/accounts/logout/") {
            "/"
        } else {
            path
        });
        let mut pairs: Vec<(&str, &str)> = form.to_vec();
        pairs.push(("csrfmiddlewaretoken", &token));
        let body = pairs
            .iter()
            .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
            .collect::<Vec<_>>()
            .join("&");
        self.request("POST", path, &body, extra)
    }
}

pub(crate) fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
