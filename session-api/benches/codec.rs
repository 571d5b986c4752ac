#![allow(missing_docs)] // criterion_group! generates an undocumented fn
//! The session codec and the signed-cookie path, without a store round trip.
//!
//! Encode and decode of a ~200 B and a ~4 KiB session through [`SessionCodec`] (the
//! db and file stores' `session_data`) and through the signed-cookie store's save and
//! load (sign + verify + compress, no I/O). Run with
//! `cargo bench -p session-api --bench codec`.

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use serde_json::json;
use session_api::{
    JsonSerializer, Record, SaveMode, SecretKeys, SessionCodec, SessionData, SessionKey,
    SessionStore, SystemClock,
};
use session_stores::signed_cookies::SignedCookieStore;
use time::{Duration, OffsetDateTime};

/// A logged-in user with a small cart: about 200 bytes of JSON.
fn small() -> SessionData {
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
        ("cart", json!([3, 4])),
    ]
    .into_iter()
    .collect()
}

/// The same user with a cart of 40 lines and a note: about 4 KiB of JSON.
fn large() -> SessionData {
    let mut data = small();
    let lines: Vec<_> = (0..40)
        .map(|i| {
            json!({
                "sku": format!("SKU-{i:05}-{}", i * 7919 % 1000),
                "qty": i % 5 + 1,
                "price": 9.99 + f64::from(i) * 0.5,
                "gift": i % 3 == 0,
            })
        })
        .collect();
    data.insert("cart".into(), json!(lines));
    data.insert("note".into(), json!("café, ".repeat(60)));
    data
}

fn json_len(data: &SessionData) -> usize {
    serde_json::to_vec(data).map_or(0, |v| v.len())
}

fn benches(c: &mut Criterion) {
    let keys = SecretKeys::new("bench-secret-bench-secret-bench-secret-bench-secret");
    let codec = SessionCodec::new(&keys, Arc::new(SystemClock), Arc::new(JsonSerializer));
    let cookies = SignedCookieStore::new(
        keys,
        1_209_600,
        Arc::new(SystemClock),
        Arc::new(JsonSerializer),
    );
    let expires = OffsetDateTime::now_utc() + Duration::days(14);
    let placeholder = SessionKey::generate();

    for (name, data) in [("200B", small()), ("4KiB", large())] {
        let mut group = c.benchmark_group("codec");
        group.throughput(Throughput::Bytes(json_len(&data) as u64));
        let encoded = codec.encode(&data).expect("encode");
        group.bench_function(BenchmarkId::new("encode", name), |b| {
            b.iter(|| codec.encode(std::hint::black_box(&data)).expect("encode"))
        });
        group.bench_function(BenchmarkId::new("decode", name), |b| {
            b.iter(|| codec.decode(std::hint::black_box(&encoded)))
        });
        group.finish();

        let mut group = c.benchmark_group("signed_cookie");
        group.throughput(Throughput::Bytes(json_len(&data) as u64));
        let record = Record::new(placeholder.clone(), data.clone(), expires);
        let cookie = cookies.save(&record, SaveMode::Create).expect("save");
        group.bench_function(BenchmarkId::new("encode", name), |b| {
            b.iter(|| {
                cookies
                    .save(std::hint::black_box(&record), SaveMode::Create)
                    .expect("save")
            })
        });
        group.bench_function(BenchmarkId::new("decode", name), |b| {
            b.iter(|| {
                cookies
                    .load(std::hint::black_box(&cookie))
                    .expect("load")
                    .expect("valid cookie")
            })
        });
        group.finish();
    }
}

criterion_group!(codec, benches);
criterion_main!(codec);
