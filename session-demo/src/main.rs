//! `session-demo`: serves the demo site (see the library's docs).
//!
//! ```sh
//! cargo run -p session-demo    # then open http://127.0.0.1:8000
//! ```

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use session_api::{SecretKeys, SessionConfig};
use session_demo::store::{self, DEFAULT_STORE};

/// For trying the site locally only: set `SESSIONS_SECRET_KEY` anywhere else.
const DEVELOPMENT_SECRET: &str = "django-insecure-session-demo-development-secret-do-not-deploy";

#[derive(Parser)]
#[command(name = "session-demo", about = "Django's session examples on axum")]
struct Args {
    /// Where sessions are kept: sqlite://FILE, postgres://..., mysql://..., redis://...,
    /// file:///DIR (or a directory's path), or memory.
    #[arg(long, default_value = DEFAULT_STORE)]
    store: String,
    /// The session table of database stores.
    #[arg(long, default_value = "django_session")]
    table: String,
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:8000")]
    addr: SocketAddr,
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Args::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::from(2)
        }
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let secret = std::env::var("SESSIONS_SECRET_KEY").unwrap_or_else(|_| {
        eprintln!("note: SESSIONS_SECRET_KEY is not set; using a development secret");
        DEVELOPMENT_SECRET.to_owned()
    });
    let config = Arc::new(SessionConfig::builder(SecretKeys::new(secret)).build()?);
    let opened = store::open(&args.store, &args.table, &config).await?;
    let listener = tokio::net::TcpListener::bind(args.addr).await?;
    println!(
        "session demo on http://{} (sessions in {})",
        listener.local_addr()?,
        opened.label
    );
    axum::serve(listener, session_demo::app(opened, config)).await?;
    Ok(())
}
