//! The site's views, written once for every adapter: each takes the request's
//! `Session` and propagates session errors with `?`, which each framework turns into
//! its response (axum `IntoResponse`, actix-web `ResponseError`).

use serde_json::{Map, Value};
use session_api::{Expiry, Session, SessionKey};

/// A view's answer.
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// A text body.
    pub body: String,
}

fn ok(body: impl Into<String>) -> Reply {
    Reply {
        status: 200,
        body: body.into(),
    }
}

/// The view for `path`:
/// - `/untouched`: never touches the session;
/// - `/read`: the session's data as a JSON object;
/// - `/write`: counts visits (`visit N`);
/// - `/browser-close`: `set_expiry(BrowserClose)`, then counts a visit;
/// - `/login`: `cycle_key`, then `_auth_user_id`; `/logout`: `flush`;
/// - `/name` stores text that `/typed` then reads as an integer (a handler error);
/// - `/big`: a value over the signed cookie's limit;
/// - `/status/N`: modifies the session and answers status N.
pub async fn view(path: &str, session: Session) -> session_api::Result<Reply> {
    Ok(match path {
        "/untouched" => ok("untouched"),
        "/read" => {
            let data: Map<String, Value> = session.aitems().await?.into_iter().collect();
            ok(Value::Object(data).to_string())
        }
        "/write" => ok(count_visit(&session).await?),
        "/browser-close" => {
            session.aset_expiry(Expiry::BrowserClose).await?;
            ok(count_visit(&session).await?)
        }
        "/login" => {
            session.acycle_key().await?;
            session.aset("_auth_user_id", "42").await?;
            ok("logged in")
        }
        "/logout" => {
            session.aflush().await?;
            ok("logged out")
        }
        "/name" => {
            session.aset("name", "bob").await?;
            ok("named")
        }
        "/typed" => {
            let n: Option<i64> = session.aget("name").await?;
            ok(format!("{n:?}"))
        }
        "/big" => {
            session.aset("big", &incompressible()).await?;
            ok("big")
        }
        other => match other.strip_prefix("/status/").and_then(|s| s.parse().ok()) {
            Some(status) => {
                session.aset("status", &status).await?;
                Reply {
                    status,
                    body: format!("status {status}"),
                }
            }
            None => Reply {
                status: 404,
                body: "no such view".into(),
            },
        },
    })
}

async fn count_visit(session: &Session) -> session_api::Result<String> {
    let visits: i64 = session.aget("visits").await?.unwrap_or(0) + 1;
    session.aset("visits", &visits).await?;
    Ok(format!("visit {visits}"))
}

/// About 9,600 random characters: even zlib-compressed (the signed cookie is) they are
/// far over the 4,096-byte cookie limit (rule H4).
fn incompressible() -> String {
    (0..300)
        .map(|_| SessionKey::generate().as_str().to_owned())
        .collect()
}
