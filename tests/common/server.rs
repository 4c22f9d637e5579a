//! The real `machimap serve` binary on a local port, with its user store and edit store in a
//! folder the test owns (so a restart finds them again), and the staff users it needs.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::http;

/// The password every test user gets.
pub const PASSWORD: &str = "a long test password";

/// The bundled sample town.
pub fn sample_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data")
}

/// `machimap` with its stores in `var`.
pub fn machimap(var: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_machimap"));
    c.env("MACHIMAP_STORE", var.join("machimap.sqlite"))
        .env("MACHIMAP_EDITS", var.join("edits.gpkg"));
    c
}

/// A running server, killed (SIGKILL) when dropped.
pub struct Server {
    child: Child,
    /// `127.0.0.1:port`.
    pub addr: String,
}

impl Server {
    /// Starts the server on `data` with its stores in `var` and waits until it listens.
    pub fn start(data: &Path, var: &Path) -> Server {
        let mut child = machimap(var)
            .args(["serve", "--bind", "127.0.0.1:0", "--data"])
            .arg(data)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the machimap binary starts");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let addr = loop {
            let line = lines
                .next()
                .expect("the server exited before listening")
                .expect("stdout line");
            if let Some(a) = line.strip_prefix("machimap listening on http://") {
                break a.trim().to_string();
            }
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server { child, addr }
    }

    /// Kills the process with SIGKILL, as a power cut or the OOM killer would: no shutdown
    /// code runs.
    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
    }

    /// Signs `user` in and returns the Bearer token.
    pub fn login(&self, user: &str) -> String {
        let body = serde_json::json!({"username": user, "password": PASSWORD}).to_string();
        let (status, text) = http(
            &self.addr,
            "POST",
            "/auth/login",
            &[("Content-Type", "application/json")],
            &body,
        );
        assert_eq!(status, 200, "login {user}: {text}");
        let doc: serde_json::Value = serde_json::from_str(&text).expect("login JSON");
        doc["token"].as_str().expect("token").to_string()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Adds a staff user with `roles` to the user store in `var` through the command line.
pub fn add_user(var: &Path, name: &str, roles: &str) {
    let mut child = machimap(var)
        .args(["user", "add", name, "--department", "危機管理課", "--roles"])
        .arg(roles)
        .arg("--password-stdin")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("machimap user add");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{PASSWORD}\n").as_bytes())
        .expect("password");
    let out = child.wait_with_output().expect("user add ends");
    assert!(
        out.status.success(),
        "user add {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
