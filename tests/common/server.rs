//! The real `machimap serve` binary on a local port, with its user store and edit store in a
//! folder the test owns (so a restart finds them again), and the staff users it needs; and the
//! binary's command line (`user add`, `audit`) on the same folder.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use super::Response;
use super::http;

/// The password every test user gets.
pub const PASSWORD: &str = "a long test password";

/// The bundled sample town.
pub fn sample_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data")
}

/// The small fixture town of `tests/fixtures/town`.
pub fn fixture_town() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/town")
}

/// `machimap` with its stores in `var` (`machimap.sqlite` and `edits.gpkg`).
pub fn machimap(var: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_machimap"));
    c.env("MACHIMAP_STORE", var.join("machimap.sqlite"))
        .env("MACHIMAP_EDITS", var.join("edits.gpkg"));
    c
}

/// Runs `cmd` with `input` on its standard input; returns what it wrote and how it ended.
pub fn run_with_stdin(cmd: &mut Command, input: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the machimap binary starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("stdin written");
    child.wait_with_output().expect("the command ends")
}

/// `machimap user add ARGS --password-stdin` on the store in `var`, with `password` typed in.
pub fn user_add(var: &Path, args: &[&str], password: &str) -> Output {
    run_with_stdin(
        machimap(var)
            .args(["user", "add"])
            .args(args)
            .arg("--password-stdin"),
        &format!("{password}\n"),
    )
}

/// Adds a staff user of the 危機管理課 with `roles` and `PASSWORD` through the command line.
pub fn add_user(var: &Path, name: &str, roles: &str) {
    add_user_as(var, name, "危機管理課", roles, PASSWORD);
}

/// Adds a staff user of `department` with `roles` and `password`; it must succeed.
pub fn add_user_as(var: &Path, name: &str, department: &str, roles: &str, password: &str) {
    let out = user_add(
        var,
        &[name, "--department", department, "--roles", roles],
        password,
    );
    assert!(
        out.status.success(),
        "user add {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// How to start a server: data, stores, users, limits.
pub struct ServerBuilder {
    data: PathBuf,
    var: Option<PathBuf>,
    users: Vec<(String, String)>,
    open_files: Option<u32>,
}

impl ServerBuilder {
    /// The stores in `var` (which the test owns) instead of a fresh temporary folder.
    pub fn var(mut self, var: &Path) -> Self {
        self.var = Some(var.to_path_buf());
        self
    }

    /// Serves `data` instead of the sample town.
    pub fn data(mut self, data: &Path) -> Self {
        self.data = data.to_path_buf();
        self
    }

    /// A staff user (`add_user`) with `roles` (comma-separated), added before the start.
    pub fn user(mut self, name: &str, roles: &str) -> Self {
        self.users.push((name.to_string(), roles.to_string()));
        self
    }

    /// Runs the binary under `ulimit -n n`, an open-file limit it cannot raise.
    pub fn open_file_limit(mut self, n: u32) -> Self {
        self.open_files = Some(n);
        self
    }

    /// Starts the server and waits until it listens.
    pub fn start(self) -> Server {
        let (var, dir) = match self.var {
            Some(var) => (var, None),
            None => {
                let dir = tempfile::tempdir().expect("tempdir");
                (dir.path().to_path_buf(), Some(dir))
            }
        };
        for (name, roles) in &self.users {
            add_user(&var, name, roles);
        }
        let mut cmd = match self.open_files {
            None => Command::new(env!("CARGO_BIN_EXE_machimap")),
            Some(n) => {
                let mut sh = Command::new("sh");
                sh.arg("-c")
                    .arg(format!("ulimit -n {n} && exec \"$0\" \"$@\""))
                    .arg(env!("CARGO_BIN_EXE_machimap"));
                sh
            }
        };
        let mut child = cmd
            .env("MACHIMAP_STORE", var.join("machimap.sqlite"))
            .env("MACHIMAP_EDITS", var.join("edits.gpkg"))
            .args(["serve", "--bind", "127.0.0.1:0", "--data"])
            .arg(&self.data)
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
        Server {
            child,
            addr,
            var,
            _dir: dir,
        }
    }
}

/// A running server, killed (SIGKILL) when dropped.
pub struct Server {
    child: Child,
    /// `127.0.0.1:port`.
    pub addr: String,
    /// Where its stores are.
    pub var: PathBuf,
    _dir: Option<tempfile::TempDir>,
}

impl Server {
    /// A server on the sample town with its stores in a fresh temporary folder.
    pub fn builder() -> ServerBuilder {
        ServerBuilder {
            data: sample_data(),
            var: None,
            users: Vec::new(),
            open_files: None,
        }
    }

    /// Starts the server on `data` with its stores in `var` and waits until it listens.
    pub fn start(data: &Path, var: &Path) -> Server {
        Server::builder().data(data).var(var).start()
    }

    /// `http://127.0.0.1:port`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The binary's command line on this server's stores.
    pub fn command(&self) -> Command {
        machimap(&self.var)
    }

    /// Kills the process with SIGKILL, as a power cut or the OOM killer would: no shutdown
    /// code runs.
    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
    }

    /// One request; `token` is sent as `Authorization: Bearer …`.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: impl AsRef<[u8]>,
    ) -> Response {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut all: Vec<(&str, &str)> = auth
            .as_deref()
            .map(|a| ("Authorization", a))
            .into_iter()
            .collect();
        all.extend_from_slice(headers);
        http(&self.addr, method, path, &all, body)
    }

    /// Signs `user` in with `password` and returns the answer.
    pub fn sign_in(&self, user: &str, password: &str) -> Response {
        let body = serde_json::json!({"username": user, "password": password}).to_string();
        self.request(
            "POST",
            "/auth/login",
            None,
            &[("Content-Type", "application/json")],
            body,
        )
    }

    /// Signs `user` in (with `PASSWORD`) and returns the Bearer token.
    pub fn login(&self, user: &str) -> String {
        self.login_with(user, PASSWORD)
    }

    /// Signs `user` in with `password` (it must succeed) and returns the Bearer token.
    pub fn login_with(&self, user: &str, password: &str) -> String {
        let r = self.sign_in(user, password);
        assert_eq!(r.status, 200, "login {user}: {}", r.body);
        r.json()["token"].as_str().expect("token").to_string()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
