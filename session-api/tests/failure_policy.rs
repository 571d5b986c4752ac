#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Rule V5 (what a request gets when the store is down) and V2's 409, through the
//! handle, the middleware core, a real axum server and the actix-web service. The
//! store that is down is a real one: SQLite whose connection pool was closed, which
//! answers every call with `Unavailable`.

mod real_stores;

use std::sync::Arc;

use actix_web::{test as actix_test, web, App, HttpResponse};
use axum::routing::get;
use axum::Router;
use serde_json::json;
use session_api::actix::Sessions;
use session_api::config::{ConflictPolicy, StoreFailurePolicy};
use session_api::middleware::{ErrorReply, SessionMiddleware};
use session_api::tower::SessionLayer;
use session_api::{Error, Session};
use session_conformance::logs;
use session_stores::db::{DbOptions, DbStore};

use real_stores::{store, Store};

/// SQLite holding one session, then taken down (its pool closed); the key.
async fn down_store(policy: StoreFailurePolicy) -> (Store, session_api::SessionKey) {
    let store = store("sqlite", false, move |b| b.store_failure(policy)).await;
    let key = store.saved(&[("a", json!(1))]).await;
    store.db.as_ref().unwrap().pool().close().await;
    (store, key)
}

fn cookie(key: &session_api::SessionKey) -> String {
    format!("sessionid={}", key.as_str())
}

/// V5: under `ServeEmpty` a load that finds the store down is an empty, degraded
/// session: the request is served, nothing is saved, the cookie is neither set nor
/// deleted, and one WARN line says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v5_serve_empty_serves_an_empty_session_and_changes_nothing() {
    let (store, key) = down_store(StoreFailurePolicy::ServeEmpty).await;
    let mw = store.middleware();
    let ((), logged) = logs::captured(async {
        let request = mw.request_session(Some(&cookie(&key)));
        assert_eq!(request.session.aget::<i64>("a").await.unwrap(), None);
        request.session.aset("b", &2).await.unwrap();
        // An explicit save of a degraded session is refused: it would replace the
        // stored session with this empty one.
        assert!(matches!(
            request.session.asave().await,
            Err(Error::Unavailable(_))
        ));
        let directives = mw.aprocess_response(&request, 200).await.unwrap();
        assert_eq!(directives.set_cookie, None);
        assert!(directives.vary_cookie);
    })
    .await;
    let warnings: Vec<_> = logged
        .iter()
        .filter(|l| l.target == "sessions" && l.level == tracing::Level::WARN)
        .collect();
    assert_eq!(warnings.len(), 1, "{logged:?}");
    assert!(!warnings[0].fields.contains(key.as_str()));

    // The stored session is untouched: reopened, it still holds its data.
    let db = reopen(&store).await;
    let record = session_api::AsyncSessionStore::aload(&db, &key)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.data.get_value("a"), Some(&json!(1)));
    assert_eq!(record.data.get_value("b"), None);
}

async fn reopen(store: &Store) -> DbStore {
    let path = store.db_path();
    DbStore::connect(
        &format!("sqlite://{}", path.display()),
        DbOptions::from_config(&store.config),
    )
    .await
    .unwrap()
}

/// V5: the other policies answer a load error by the error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v5_other_policies_let_the_error_through() {
    let (store, key) = down_store(StoreFailurePolicy::Unavailable).await;
    let session = store.session(Some(&key));
    assert!(matches!(
        session.aget::<i64>("a").await,
        Err(Error::Unavailable(_))
    ));
}

/// A real axum server on a loopback port with the session layer over `mw`.
async fn serve(router: Router, mw: SessionMiddleware) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = router.layer(SessionLayer::new(mw));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

async fn read(session: Session) -> session_api::Result<String> {
    Ok(format!("{:?}", session.aget::<i64>("a").await?))
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// V5 through axum: 503 with `Retry-After`, 500, or the page with an empty session
/// and no cookie change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v5_axum_answers_by_policy() {
    let cases = [
        (StoreFailurePolicy::RetryAfter(7), 503, Some("7")),
        (StoreFailurePolicy::Unavailable, 503, None),
        (StoreFailurePolicy::InternalError, 500, None),
        (StoreFailurePolicy::ServeEmpty, 200, None),
    ];
    for (policy, status, retry_after) in cases {
        let (store, key) = down_store(policy).await;
        let base = serve(Router::new().route("/", get(read)), store.middleware()).await;
        let response = client()
            .get(&base)
            .header("Cookie", cookie(&key))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), status, "{policy:?}");
        let header = response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(header.as_deref(), retry_after, "{policy:?}");
        assert!(response.headers().get("set-cookie").is_none(), "{policy:?}");
        if status == 200 {
            assert_eq!(response.text().await.unwrap(), "None");
        }
    }
}

/// V2 through axum: under `Fail`, a response save that lost to a concurrent request
/// is 409; the application's error handler sees the conflict.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_axum_answers_a_conflict_409() {
    let store = Arc::new(store("memory", false, |b| b.conflict_policy(ConflictPolicy::Fail)).await);
    let key = store.saved(&[("x", json!(0))]).await;
    let inner = Arc::clone(&store);
    let racing = move |session: Session| {
        let store = Arc::clone(&inner);
        async move {
            session.aset("x", &1).await?;
            // A concurrent request writes the session first.
            let other = store.session(session.session_key().as_ref());
            other.aset("x", &2).await?;
            other.asave().await?;
            Ok::<_, Error>("saved?")
        }
    };
    let base = serve(
        Router::new().route("/", get(racing.clone())),
        store.middleware(),
    )
    .await;
    let response = client()
        .get(&base)
        .header("Cookie", cookie(&key))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 409);
    assert_eq!(store.stored(&key, "x").await, Some(json!(2)));

    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    let app = Router::new().route("/", get(racing)).layer(
        SessionLayer::new(store.middleware()).on_error(move |err: &Error| {
            sink.lock().unwrap().push(matches!(err, Error::Conflict));
            let mut response = http::Response::new(axum::body::Body::from("ours"));
            *response.status_mut() = http::StatusCode::IM_A_TEAPOT;
            response
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let response = client()
        .get(format!("http://{addr}"))
        .header("Cookie", cookie(&key))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 418);
    assert_eq!(*seen.lock().unwrap(), [true]);
}

async fn actix_read(session: Session) -> session_api::Result<HttpResponse> {
    Ok(HttpResponse::Ok().body(format!("{:?}", session.aget::<i64>("a").await?)))
}

/// V5 and V2 through actix-web: 503 with `Retry-After` for a store that is down, 409
/// for a conflict under `Fail`.
#[actix_web::test]
async fn v5_v2_actix_answers_by_policy() {
    let (store, key) = down_store(StoreFailurePolicy::RetryAfter(3)).await;
    let app = actix_test::init_service(
        App::new()
            .wrap(Sessions::new(store.middleware()))
            .route("/", web::get().to(actix_read)),
    )
    .await;
    let request = actix_test::TestRequest::get()
        .uri("/")
        .insert_header(("Cookie", cookie(&key)))
        .to_request();
    let response = actix_test::call_service(&app, request).await;
    assert_eq!(response.status().as_u16(), 503);
    assert_eq!(response.headers().get("retry-after").unwrap(), "3");

    let store = Arc::new(store_fail().await);
    let key = store.saved(&[("x", json!(0))]).await;
    let inner = Arc::clone(&store);
    let app = actix_test::init_service(App::new().wrap(Sessions::new(store.middleware())).route(
        "/",
        web::get().to(move |session: Session| {
            let store = Arc::clone(&inner);
            async move {
                session.aset("x", &1).await?;
                let other = store.session(session.session_key().as_ref());
                other.aset("x", &2).await?;
                other.asave().await?;
                Ok::<_, Error>(HttpResponse::Ok().finish())
            }
        }),
    ))
    .await;
    let request = actix_test::TestRequest::get()
        .uri("/")
        .insert_header(("Cookie", cookie(&key)))
        .to_request();
    let response = actix_test::call_service(&app, request).await;
    assert_eq!(response.status().as_u16(), 409);
}

async fn store_fail() -> Store {
    store("memory", false, |b| b.conflict_policy(ConflictPolicy::Fail)).await
}

/// V5: under `ServeEmpty` a response save that finds the store down is swallowed
/// only while the session keeps the key the request presented (the client's cookie
/// still names its stored session). After a `cycle_key` (a login) the old record is
/// gone and the new one is unsaved: serving the page without the new cookie would
/// lose the session silently, so the error is answered (503 by default).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v5_serve_empty_never_swallows_a_failed_save_after_the_key_changed() {
    let store = store("sqlite", false, |b| {
        b.store_failure(StoreFailurePolicy::ServeEmpty)
    })
    .await;
    let (key, other) = (
        store.saved(&[("a", json!(1))]).await,
        store.saved(&[("a", json!(2))]).await,
    );
    let mw = store.middleware();

    // The key unchanged: the page is served, no cookie change.
    let request = mw.request_session(Some(&cookie(&key)));
    request.session.aset("b", &2).await.unwrap();
    let cycled = mw.request_session(Some(&cookie(&other)));
    cycled.session.acycle_key().await.unwrap();
    cycled.session.aset("user", &7).await.unwrap();
    store.db.as_ref().unwrap().pool().close().await;

    let directives = mw.aprocess_response(&request, 200).await.unwrap();
    assert_eq!(directives.set_cookie, None);

    // The key changed in this request: the failure is the answer.
    let err = mw.aprocess_response(&cycled, 200).await.unwrap_err();
    assert!(matches!(err, Error::Unavailable(_)), "{err:?}");
    assert_eq!(
        ErrorReply::for_policy(&err, StoreFailurePolicy::ServeEmpty).status,
        503
    );
}
