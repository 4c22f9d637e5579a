//! What signing in and being signed in cost. Prints numbers; asserts nothing.
//!
//!     cargo bench --bench auth
//!
//! - sign-in: one Argon2id verification plus the session insert (by design tens of ms), and
//!   a failed one for an existing and for an unknown name, which should cost the same;
//! - session lookup: what every staff request pays before its query runs;
//! - audit append: what every read of a restricted layer pays (an fsync'd commit on disk).

use std::sync::Arc;
use std::time::Instant;

use machimap::audit::{Action, Event};
use machimap::auth::{Actor, Auth, Clock, Policy};
use machimap::store::Store;

fn percentiles(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[v.len() * 99 / 100])
}

fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let store = Arc::new(Store::open(&dir.path().join("store.sqlite"))?);
    let auth = Auth::new(store, Clock::System, Policy::default())?;
    let actor = Actor {
        name: "bench",
        client: "bench",
    };
    for i in 0..200 {
        auth.add_user(
            actor,
            &format!("user{i:03}"),
            "福祉課",
            &["staff".into(), "welfare".into()],
            "a long enough password",
        )?;
    }
    let mut login = Vec::new();
    let mut tokens = Vec::new();
    for i in 0..50 {
        let t = Instant::now();
        let s = auth
            .login(&format!("user{i:03}"), "a long enough password", "bench")
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        login.push(t.elapsed().as_secs_f64() * 1e3);
        tokens.push(s.token);
    }
    let (p50, p99) = percentiles(login);
    println!("sign-in (Argon2id m=19 MiB t=2 p=1): p50 {p50:.1} ms, p99 {p99:.1} ms");

    // The same cost for a name that exists and one that does not: no user enumeration by time.
    // (Each name is tried once, well below the lockout threshold.)
    for (label, prefix) in [("wrong password", "user"), ("unknown user", "nobody")] {
        let mut times = Vec::new();
        for i in 50..150 {
            let t = Instant::now();
            let r = auth.login(&format!("{prefix}{i:03}"), "not the password", "bench");
            times.push(t.elapsed().as_secs_f64() * 1e3);
            assert!(r.is_err());
        }
        let (p50, p99) = percentiles(times);
        println!("failed sign-in, {label:<14}: p50 {p50:.1} ms, p99 {p99:.1} ms");
    }

    let mut lookup = Vec::new();
    for n in 0..20_000 {
        let t = Instant::now();
        let s = auth.session(&tokens[n % tokens.len()])?;
        lookup.push(t.elapsed().as_secs_f64() * 1e6);
        assert!(s.is_some());
    }
    let (p50, p99) = percentiles(lookup);
    println!("session lookup per staff request: p50 {p50:.1} µs, p99 {p99:.1} µs");

    let mut append = Vec::new();
    for _ in 0..500 {
        let t = Instant::now();
        auth.audit(&Event {
            actor: "user001",
            action: Action::Read,
            target: "evacuation-support",
            detail: "items?limit=10 returned=10",
            client: "192.0.2.1",
        })?;
        append.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let (p50, p99) = percentiles(append);
    println!("audit append (synchronous=FULL): p50 {p50:.2} ms, p99 {p99:.2} ms");
    Ok(())
}
