//! The raw sqlx client doing what the db store does, on the same table through a
//! pool of the same settings: `INSERT`, `SELECT`, `UPDATE` and `DELETE` by primary
//! key, with the store's own `WHERE` clauses (live rows only), binding the text the
//! store's codec wrote once up front (so the store's figure also holds its
//! encoding and decoding, and the raw one does not).

use async_trait::async_trait;
use session_api::SessionKey;
use session_stores::db::{sqlx, DbPool};
use sqlx::Row;
use time::{OffsetDateTime, PrimitiveDateTime};

use super::expires;
use super::Encoded;
use crate::error::{BenchError, Result};
use crate::payload::{Payload, PayloadSize};
use crate::subject::Subject;

/// The statements, with the table's name in them.
struct Statements {
    insert: String,
    load: String,
    update: String,
    delete: String,
}

impl Statements {
    fn new(pool: &DbPool, table: &str) -> Self {
        let postgres = matches!(pool, DbPool::Postgres(_));
        let p = |n: usize| {
            if postgres {
                format!("${n}")
            } else {
                "?".to_owned()
            }
        };
        Statements {
            insert: format!(
                "INSERT INTO {table} (session_key, session_data, expire_date) VALUES ({}, {}, {})",
                p(1),
                p(2),
                p(3)
            ),
            load: format!(
                "SELECT session_data, expire_date FROM {table} WHERE session_key = {} AND expire_date > {}",
                p(1),
                p(2)
            ),
            update: format!(
                "UPDATE {table} SET session_data = {}, expire_date = {} WHERE session_key = {} AND expire_date > {}",
                p(1),
                p(2),
                p(3),
                p(4)
            ),
            delete: format!("DELETE FROM {table} WHERE session_key = {}", p(1)),
        }
    }
}

/// Django's `datetime` text on SQLite, as the store writes it.
fn sqlite_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

fn pg_time(t: OffsetDateTime) -> OffsetDateTime {
    t
}

fn mysql_time(t: OffsetDateTime) -> PrimitiveDateTime {
    let t = t.to_offset(time::UtcOffset::UTC);
    PrimitiveDateTime::new(t.date(), t.time())
}

/// Runs `$body` with `$p` the concrete pool, `$time` converting an instant to the
/// driver's `expire_date` parameter and `$T` that parameter's type.
macro_rules! on_driver {
    ($pool:expr, |$p:ident, $time:ident, $T:ident| $body:expr) => {
        match $pool {
            DbPool::Sqlite($p) => {
                #[allow(dead_code)]
                type $T = String;
                #[allow(unused_variables)]
                let $time = sqlite_time;
                $body
            }
            DbPool::Postgres($p) => {
                #[allow(dead_code)]
                type $T = OffsetDateTime;
                #[allow(unused_variables)]
                let $time = pg_time;
                $body
            }
            DbPool::MySql($p) => {
                #[allow(dead_code)]
                type $T = PrimitiveDateTime;
                #[allow(unused_variables)]
                let $time = mysql_time;
                $body
            }
            _ => Err(BenchError::Setup(
                "a database driver this benchmark does not know".into(),
            )),
        }
    };
}

fn raw(err: sqlx::Error) -> BenchError {
    BenchError::peer("raw sqlx", err)
}

/// The raw client on one table.
pub struct RawSql {
    pool: DbPool,
    sql: Statements,
    encoded: Encoded,
}

impl RawSql {
    /// The client of `table` on `pool`, writing `encoded` (the store's texts of
    /// each payload).
    pub fn new(pool: DbPool, table: &str, encoded: Encoded) -> Self {
        let sql = Statements::new(&pool, table);
        RawSql { pool, sql, encoded }
    }

    async fn select(&self, key: &str) -> Result<String> {
        let now = OffsetDateTime::now_utc();
        on_driver!(&self.pool, |p, time, T| {
            let row = sqlx::query(&self.sql.load)
                .bind(key)
                .bind(time(now))
                .fetch_optional(p)
                .await
                .map_err(raw)?
                .ok_or(BenchError::NotFound("raw load"))?;
            let _expires: T = row.try_get(1).map_err(raw)?;
            row.try_get::<String, _>(0).map_err(raw)
        })
    }

    async fn update(&self, key: &str, text: &str, expire: OffsetDateTime) -> Result<()> {
        let now = OffsetDateTime::now_utc();
        let matched = on_driver!(&self.pool, |p, time, T| {
            Ok(sqlx::query(&self.sql.update)
                .bind(text)
                .bind(time(expire))
                .bind(key)
                .bind(time(now))
                .execute(p)
                .await
                .map_err(raw)?
                .rows_affected())
        })?;
        if matched == 0 {
            return Err(BenchError::NotFound("raw update"));
        }
        Ok(())
    }
}

/// A session of the raw client: its key and which payload it holds.
#[derive(Debug, Clone)]
pub struct RawKey {
    key: SessionKey,
    size: PayloadSize,
}

#[async_trait]
impl Subject for RawSql {
    type Key = RawKey;
    type Saved = (RawKey, OffsetDateTime);

    async fn create(&self, payload: &Payload) -> Result<RawKey> {
        let key = SessionKey::generate();
        let text = self.encoded.text(payload.size, 0)?;
        let expire = expires();
        on_driver!(&self.pool, |p, time, T| {
            sqlx::query(&self.sql.insert)
                .bind(key.as_str())
                .bind(text)
                .bind(time(expire))
                .execute(p)
                .await
                .map(drop)
                .map_err(raw)
        })?;
        Ok(RawKey {
            key,
            size: payload.size,
        })
    }

    async fn load(&self, key: &RawKey) -> Result<()> {
        self.select(key.key.as_str()).await.map(drop)
    }

    fn saved(&self, key: &RawKey, _payload: &Payload) -> (RawKey, OffsetDateTime) {
        (key.clone(), expires())
    }

    async fn save(&self, (key, expire): &(RawKey, OffsetDateTime), n: u64) -> Result<()> {
        let text = self.encoded.text(key.size, 1 + n % 2)?;
        self.update(key.key.as_str(), text, *expire).await
    }

    async fn cycle(&self, key: &RawKey, _counter: u64) -> Result<()> {
        // The same statements as the store's cycle, writing a text other than the
        // one read (the store's decoding, change and encoding are what this
        // leaves out).
        let text = self.select(key.key.as_str()).await?;
        let other = self.encoded.other(key.size, &text)?;
        self.update(key.key.as_str(), other, expires()).await
    }

    async fn delete(&self, key: &RawKey) -> Result<()> {
        on_driver!(&self.pool, |p, time, T| {
            sqlx::query(&self.sql.delete)
                .bind(key.key.as_str())
                .execute(p)
                .await
                .map(drop)
                .map_err(raw)
        })
    }
}
