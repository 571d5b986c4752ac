//! The pages: the examples of Django's sessions documentation, one handler each.
//!
//! - `/`: who is logged in, a comment form that accepts one comment per session
//!   (`has_commented`), the `set_expiry` choices, a logout button;
//! - `/login`: sets a test cookie (`set_test_cookie`); posting the form checks it came
//!   back (`test_cookie_worked`, `delete_test_cookie`), then logs in with a new key
//!   (`cycle_key`);
//! - `/logout`: `flush`;
//! - `/session`: the session's data, its expiry age and date.

use std::sync::Arc;

use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Map, Value};
use session_api::middleware::ErrorReply;
use session_api::{Error, Expiry, ExpiryArgs, Session};
use time::Duration;

use crate::html::{escape, page};

/// What every page knows: the store's label for the footer.
#[derive(Debug, Clone)]
pub struct Site {
    /// The store, as the footer names it.
    pub store: Arc<str>,
}

/// The session key the account is kept under (the documentation's `member_id`).
const MEMBER: &str = "member_id";

/// `/`: the login state, the comment form and the expiry choices.
pub async fn home(State(site): State<Site>, session: Session) -> session_api::Result<Html<String>> {
    let status = match session.aget::<String>(MEMBER).await? {
        Some(name) => format!(
            r#"<p id="status">You're logged in as <strong id="member">{}</strong>.</p>
<form method="post" action="/logout"><button id="logout-button">Log out</button></form>"#,
            escape(&name)
        ),
        None => r#"<p id="status">You're not logged in. <a href="/login">Log in</a>.</p>"#.into(),
    };
    let commented = if session
        .aget::<bool>("has_commented")
        .await?
        .unwrap_or(false)
    {
        "<p>You've already commented.</p>"
    } else {
        ""
    };
    let body = format!(
        r#"{status}
<h2>Comment once</h2>
{commented}
<form method="post" action="/comment">
<textarea id="comment" name="comment" rows="3" cols="50" required></textarea><br>
<button id="comment-button">Post comment</button>
</form>
<h2>Session expiry</h2>
<form method="post" action="/expiry">
{choices}
<button id="expiry-button">Set expiry</button>
</form>
<p><a href="/session">The session's data, age and expiry</a></p>"#,
        choices = ExpiryChoice::radio_buttons()
    );
    Ok(page("Session demo", &body, &site.store))
}

/// `GET /login`: the documentation's test-cookie login form.
pub async fn login_form(
    State(site): State<Site>,
    session: Session,
) -> session_api::Result<Html<String>> {
    session.aset_test_cookie().await?;
    Ok(login_page(&site, ""))
}

fn login_page(site: &Site, message: &str) -> Html<String> {
    let body = format!(
        r#"<p id="message">{message}</p>
<form method="post" action="/login">
<label>Name <input id="username" name="username" required></label>
<button id="login-button">Log in</button>
</form>
<p>This page set a test cookie (<code>set_test_cookie</code>); logging in checks that the
browser sent it back (<code>test_cookie_worked</code>).</p>"#
    );
    page("Log in", &body, &site.store)
}

/// The login form's fields.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    username: String,
}

/// `POST /login`: refuses when the test cookie did not come back, else logs in under a
/// new key (no session fixation) and goes home.
pub async fn login(
    State(site): State<Site>,
    session: Session,
    Form(form): Form<LoginForm>,
) -> session_api::Result<Response> {
    if !session.atest_cookie_worked().await? {
        return Ok(login_page(&site, "Please enable cookies and try again.").into_response());
    }
    let name = form.username.trim();
    if name.is_empty() {
        return Ok(login_page(&site, "Enter a name.").into_response());
    }
    session.adelete_test_cookie().await?;
    session.acycle_key().await?;
    session.aset(MEMBER, name).await?;
    Ok(Redirect::to("/").into_response())
}

/// `POST /logout`: the record is deleted and the cookie removed.
pub async fn logout(session: Session) -> session_api::Result<Redirect> {
    session.aflush().await?;
    Ok(Redirect::to("/"))
}

/// The comment form's field.
#[derive(Debug, Deserialize)]
pub struct CommentForm {
    comment: String,
}

/// `POST /comment`: one comment per session.
pub async fn comment(
    State(site): State<Site>,
    session: Session,
    Form(form): Form<CommentForm>,
) -> session_api::Result<Html<String>> {
    let message = if session
        .aget::<bool>("has_commented")
        .await?
        .unwrap_or(false)
    {
        "You've already commented.".to_owned()
    } else {
        session.aset("has_commented", &true).await?;
        format!("Thanks for your comment: “{}”", escape(form.comment.trim()))
    };
    let body = format!(r#"<p id="message">{message}</p><p><a href="/">Back</a></p>"#);
    Ok(page("Comment", &body, &site.store))
}

/// The `set_expiry` choices of the documentation.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExpiryChoice {
    /// `set_expiry(None)`: the site's policy.
    Default,
    /// `set_expiry(300)`: five minutes of inactivity.
    Seconds,
    /// `set_expiry(timedelta(hours=1))`: one hour from now.
    Timedelta,
    /// `set_expiry(datetime)`: tomorrow at midnight UTC.
    Datetime,
    /// `set_expiry(0)`: when the browser closes.
    BrowserClose,
}

impl ExpiryChoice {
    const ALL: [ExpiryChoice; 5] = [
        ExpiryChoice::Default,
        ExpiryChoice::Seconds,
        ExpiryChoice::Timedelta,
        ExpiryChoice::Datetime,
        ExpiryChoice::BrowserClose,
    ];

    fn value(self) -> &'static str {
        match self {
            ExpiryChoice::Default => "default",
            ExpiryChoice::Seconds => "seconds",
            ExpiryChoice::Timedelta => "timedelta",
            ExpiryChoice::Datetime => "datetime",
            ExpiryChoice::BrowserClose => "browser-close",
        }
    }

    fn label(self) -> &'static str {
        match self {
            ExpiryChoice::Default => "the site's default, two weeks: <code>set_expiry(None)</code>",
            ExpiryChoice::Seconds => "after 5 minutes of inactivity: <code>set_expiry(300)</code>",
            ExpiryChoice::Timedelta => {
                "one hour from now: <code>set_expiry(timedelta(hours=1))</code>"
            }
            ExpiryChoice::Datetime => {
                "tomorrow at midnight UTC: <code>set_expiry(datetime(...))</code>"
            }
            ExpiryChoice::BrowserClose => "when the browser closes: <code>set_expiry(0)</code>",
        }
    }

    fn radio_buttons() -> String {
        Self::ALL
            .iter()
            .map(|choice| {
                let value = choice.value();
                let checked = if matches!(choice, ExpiryChoice::Default) {
                    " checked"
                } else {
                    ""
                };
                format!(
                    r#"<label><input type="radio" id="expiry-{value}" name="choice" value="{value}"{checked}> {}</label><br>"#,
                    choice.label()
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn expiry(self, session: &Session) -> Expiry {
        match self {
            ExpiryChoice::Default => Expiry::Default,
            ExpiryChoice::Seconds => Expiry::Seconds(300),
            ExpiryChoice::Timedelta => Expiry::In(Duration::hours(1)),
            ExpiryChoice::Datetime => {
                let tomorrow = session.config().clock.now() + Duration::days(1);
                Expiry::At(tomorrow.replace_time(time::Time::MIDNIGHT))
            }
            ExpiryChoice::BrowserClose => Expiry::BrowserClose,
        }
    }
}

/// The expiry form's field.
#[derive(Debug, Deserialize)]
pub struct ExpiryForm {
    choice: ExpiryChoice,
}

/// `POST /expiry`: sets the chosen expiry, then shows the session.
pub async fn expiry(
    session: Session,
    Form(form): Form<ExpiryForm>,
) -> session_api::Result<Redirect> {
    session.aset_expiry(form.choice.expiry(&session)).await?;
    Ok(Redirect::to("/session"))
}

/// `/session`: the data, the expiry age and date, and the settings behind them.
pub async fn session_page(
    State(site): State<Site>,
    session: Session,
) -> session_api::Result<Html<String>> {
    let data: Map<String, Value> = session.aitems().await?.into_iter().collect();
    let data = serde_json::to_string_pretty(&Value::Object(data)).map_err(Error::serialization)?;
    let age = session.aget_expiry_age(ExpiryArgs::default()).await?;
    let date = session.aget_expiry_date(ExpiryArgs::default()).await?;
    let browser_close = if session.aget_expire_at_browser_close().await? {
        "yes"
    } else {
        "no"
    };
    let key = match session.session_key() {
        Some(key) => format!("{}…", key.as_str().get(..8).unwrap_or_default()),
        None => "none yet (nothing saved)".into(),
    };
    let body = format!(
        r#"<dl>
<dt>Data</dt><dd><pre id="data">{data}</pre></dd>
<dt>Expiry age (<code>get_expiry_age</code>)</dt><dd id="expiry-age">{age} seconds</dd>
<dt>Expires (<code>get_expiry_date</code>)</dt><dd id="expiry-date">{date}</dd>
<dt>Expires when the browser closes (<code>get_expire_at_browser_close</code>)</dt><dd id="browser-close">{browser_close}</dd>
<dt>Cookie age setting (<code>get_session_cookie_age</code>)</dt><dd>{cookie_age} seconds</dd>
<dt>Key</dt><dd>{key}</dd>
</dl>"#,
        data = escape(&data),
        date = session_api::expiry::isoformat(date),
        cookie_age = session.get_session_cookie_age(),
    );
    Ok(page("Your session", &body, &site.store))
}

/// The page sent for a session error (a store outage, a concurrent logout): the status
/// and short text of [`ErrorReply::for_error`], in the site's frame.
pub fn error_page(site: &Site, err: &Error) -> Response {
    let reply = ErrorReply::for_error(err);
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = format!(r#"<p id="message">{}</p>"#, escape(reply.body));
    (status, page("Session error", &body, &site.store)).into_response()
}
