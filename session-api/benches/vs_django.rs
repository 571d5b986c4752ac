#![allow(missing_docs)] // criterion_group! generates an undocumented fn
//! session-api against Django 5.2, side by side in one run.
//!
//! Each group times the Rust operation and the same operation in CPython (a Django
//! process started once, speaking a line protocol: see `django_peer.py`). Run with
//! `cargo bench -p session-api --bench vs_django`; set `DJANGO_PEER_PYTHON` to a
//! Python that has Django 5.2 (default `python3`). Without Django only Rust is timed.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::json;
use session_api::{
    JsonSerializer, SecretKeys, Session, SessionBackend, SessionCodec, SessionConfig, SessionData,
    SessionKey, SystemClock,
};
use session_stores::memory::MemoryStore;

struct Peer {
    _child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Peer {
    fn start() -> Option<Mutex<Peer>> {
        let python = std::env::var("DJANGO_PEER_PYTHON").unwrap_or_else(|_| "python3".into());
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/django_peer.py");
        let mut child = Command::new(python)
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .ok()?;
        let stdin = child.stdin.take()?;
        let stdout = BufReader::new(child.stdout.take()?);
        let mut peer = Peer {
            _child: child,
            stdin,
            stdout,
        };
        peer.time("keygen", 1)?;
        Some(Mutex::new(peer))
    }

    fn time(&mut self, op: &str, iters: u64) -> Option<Duration> {
        writeln!(self.stdin, "{op} {iters}").ok()?;
        let mut line = String::new();
        self.stdout.read_line(&mut line).ok()?;
        line.trim().parse().ok().map(Duration::from_nanos)
    }
}

fn data() -> SessionData {
    [
        ("_auth_user_id", json!("42")),
        (
            "_auth_user_backend",
            json!("django.contrib.auth.backends.ModelBackend"),
        ),
        (
            "_auth_user_hash",
            json!("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
        ),
        ("cart", json!((0..20).collect::<Vec<_>>())),
        ("note", json!("café ".repeat(10))),
    ]
    .into_iter()
    .collect()
}

fn benches(c: &mut Criterion) {
    let peer = Peer::start();
    if peer.is_none() {
        eprintln!("Django 5.2 not found (set DJANGO_PEER_PYTHON): timing Rust only");
    }
    let keys = SecretKeys::new("bench-secret");
    let codec = SessionCodec::new(&keys, Arc::new(SystemClock), Arc::new(JsonSerializer));
    let data = data();
    let encoded = codec.encode(&data).expect("encode");
    let config = Arc::new(SessionConfig::builder(keys).build().expect("config"));
    let backend = SessionBackend::from_nonblocking_sync(Arc::new(MemoryStore::new()));

    let mut side_by_side = |name: &str, rust: &mut dyn FnMut()| {
        let mut group = c.benchmark_group(name);
        group.bench_function("rust", |b| b.iter(&mut *rust));
        if let Some(peer) = &peer {
            group.bench_function("django", |b| {
                b.iter_custom(|iters| {
                    let mut peer = peer.lock().unwrap_or_else(|e| e.into_inner());
                    peer.time(name, iters).unwrap_or_default()
                })
            });
        }
        group.finish();
    };

    side_by_side("encode", &mut || {
        std::hint::black_box(codec.encode(&data).expect("encode"));
    });
    side_by_side("decode", &mut || {
        std::hint::black_box(codec.decode(&encoded));
    });
    side_by_side("keygen", &mut || {
        std::hint::black_box(SessionKey::generate());
    });
    side_by_side("request", &mut || {
        let s = Session::new(backend.clone(), config.clone(), None);
        s.update(data.iter().map(|(k, v)| (k.clone(), v.clone())))
            .expect("update");
        s.save().expect("save");
        let key = s.session_key();
        let r = Session::new(
            backend.clone(),
            config.clone(),
            key.as_ref().map(SessionKey::as_str),
        );
        std::hint::black_box(r.get_value("_auth_user_id").expect("get"));
    });
}

criterion_group!(vs_django, benches);
criterion_main!(vs_django);
