//! SQL text: identifier validation, the three dialects, and every statement the store
//! runs, built once per store from validated identifiers.

use session_api::{Error, Result};

use super::extension::{ColumnType, ExtraColumn};

/// Longest identifier accepted: PostgreSQL's limit (63 bytes), below MySQL's (64).
pub const MAX_IDENTIFIER_LEN: usize = 63;

/// Checks that `name` is an SQL identifier this backend will put into SQL text:
/// `[A-Za-z_][A-Za-z0-9_]{0,62}`. Nothing else is ever interpolated into a statement
/// (values are always bound parameters).
///
/// # Errors
///
/// [`Error::Configuration`] naming what is wrong.
///
/// ```
/// use session_stores::db::validate_identifier;
/// assert!(validate_identifier("django_session").is_ok());
/// assert!(validate_identifier("_x9").is_ok());
/// assert!(validate_identifier("9lives").is_err());
/// assert!(validate_identifier("t; DROP TABLE users").is_err());
/// assert!(validate_identifier(&"a".repeat(64)).is_err());
/// ```
pub fn validate_identifier(name: &str) -> Result<()> {
    let mut bytes = name.bytes();
    let first_ok = bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_');
    let rest_ok = bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if first_ok && rest_ok && name.len() <= MAX_IDENTIFIER_LEN {
        Ok(())
    } else {
        // The name is shown (it is configuration, not client input), capped in length.
        let shown: String = name.chars().take(80).collect();
        Err(Error::configuration(format!(
            "invalid SQL identifier {shown:?}: expected [A-Za-z_][A-Za-z0-9_]{{0,62}}"
        )))
    }
}

/// The SQL dialect of a pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite: `expire_date` is Django's `datetime` column holding UTC text
    /// `YYYY-MM-DD HH:MM:SS.ffffff`, which sorts and compares as text.
    Sqlite,
    /// PostgreSQL: `expire_date` is `timestamp with time zone`.
    Postgres,
    /// MySQL and MariaDB: `expire_date` is `datetime(6)` holding UTC, as Django writes it.
    MySql,
}

impl Dialect {
    /// `name` quoted for this dialect. Only called with validated identifiers.
    fn quote(self, name: &str) -> String {
        match self {
            Dialect::MySql => format!("`{name}`"),
            Dialect::Sqlite | Dialect::Postgres => format!("\"{name}\""),
        }
    }

    /// The placeholder of the `n`-th parameter (1-based).
    fn param(self, n: usize) -> String {
        match self {
            Dialect::Postgres => format!("${n}"),
            Dialect::Sqlite | Dialect::MySql => "?".to_owned(),
        }
    }

    /// Django's column types for the three base columns.
    fn data_type(self) -> &'static str {
        match self {
            Dialect::MySql => "longtext",
            Dialect::Sqlite | Dialect::Postgres => "text",
        }
    }

    fn datetime_type(self) -> &'static str {
        match self {
            Dialect::Sqlite => "datetime",
            Dialect::Postgres => "timestamp with time zone",
            Dialect::MySql => "datetime(6)",
        }
    }

    /// Django's `connection.ops.max_name_length()` (SQLite has none; Django uses 200).
    fn max_name_len(self) -> usize {
        match self {
            Dialect::Sqlite => 200,
            Dialect::Postgres => 63,
            Dialect::MySql => 64,
        }
    }

    fn column_type(self, ty: ColumnType) -> String {
        match ty {
            ColumnType::BigInt => "bigint".to_owned(),
            ColumnType::Text => self.data_type().to_owned(),
            ColumnType::VarChar(n) => format!("varchar({n})"),
            ColumnType::Boolean => match self {
                Dialect::Postgres => "boolean".to_owned(),
                Dialect::Sqlite | Dialect::MySql => "bool".to_owned(),
            },
        }
    }
}

/// Django's `names_digest(*args, length=8)`: the first 8 hex digits of the MD5 of the
/// arguments, concatenated.
fn names_digest(parts: &[&str]) -> String {
    use md5::{Digest, Md5};
    let mut hasher = Md5::new();
    for part in parts {
        hasher.update(part.as_bytes());
    }
    hasher
        .finalize()
        .iter()
        .take(4)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Django's `BaseDatabaseSchemaEditor._create_index_name(table, [column], suffix)`
/// for a backend whose names are at most `max_len` characters (Django 5.2): the table,
/// the column and a digest of both, shortened the way Django shortens them.
fn django_index_name(table: &str, column: &str, suffix: &str, max_len: usize) -> String {
    let mut hash_suffix = format!("{}{suffix}", names_digest(&[table, column]));
    let name = format!("{table}_{column}_{hash_suffix}");
    if name.len() <= max_len {
        return name;
    }
    if hash_suffix.len() > max_len / 3 {
        hash_suffix.truncate(max_len / 3);
    }
    let other = (max_len - hash_suffix.len()) / 2 - 1;
    let cut = |s: &str| s.chars().take(other).collect::<String>();
    let name = format!("{}_{}_{hash_suffix}", cut(table), cut(column));
    if name.starts_with('_') || name.starts_with(|c: char| c.is_ascii_digit()) {
        let mut prefixed = format!("D{name}");
        prefixed.pop();
        prefixed
    } else {
        name
    }
}

/// How `migrate` adds the version column to a table that lacks it.
#[derive(Debug, Clone)]
pub(crate) struct VersionColumnSql {
    /// (`check_args`) -> the number of columns of that name the table has (0 or 1).
    pub check: String,
    /// What `check` binds: the table as the catalogue names it, and the column.
    pub check_args: (String, String),
    /// `ALTER TABLE ... ADD COLUMN <version> bigint NOT NULL DEFAULT 0`.
    pub add: String,
}

/// Every statement of one store, with its table and extra columns baked in.
///
/// Parameter order is the order of appearance, so `?` and `$n` bind alike.
#[derive(Debug, Clone)]
pub(crate) struct Statements {
    /// Migration: `CREATE TABLE IF NOT EXISTS` (MySQL: with its indexes inline).
    pub create_table: String,
    /// Migration: Django's indexes, `CREATE INDEX IF NOT EXISTS` (SQLite, PostgreSQL;
    /// MySQL has them inline in `create_table`, as it has no `IF NOT EXISTS` there).
    pub create_indexes: Vec<String>,
    /// Migration: the version column, when the store is versioned.
    pub version_column: Option<VersionColumnSql>,
    /// (key) -> session_data, expire_date[, version] of the row, live or expired
    /// (the caller judges the expiry, so one query tells expired from missing).
    pub load: String,
    /// (key, now) -> a row when a live record exists.
    pub exists: String,
    /// (key, data, expire_date, extras...); the version takes the column's default.
    pub insert: String,
    /// (data, expire_date, extras..., key, now): live rows only (rule H7); bumps the
    /// version.
    pub update: String,
    /// (data, expire_date, extras..., key, now): the same on an expired row only, for
    /// a create whose key is held by an expired, unpurged row (the version goes on
    /// counting, so a version of the old record never matches the new one).
    pub take_over: String,
    /// (data, expire_date, extras..., key, expected version, now): the versioned
    /// save (rule V1), when the store is versioned.
    pub update_if: Option<String>,
    /// (expire_date, key, now): moves a live row's expiry (rule V4); bumps the version.
    pub touch: String,
    /// (key).
    pub delete: String,
    /// (now): one bounded batch of `clear_expired`.
    pub clear_batch: String,
    /// (key) -> session_data, expire_date, whatever the expiry.
    pub read_raw: String,
    /// (data, expire_date, key): a raw write over an existing row; extra columns
    /// `NULL`, the version bumped.
    pub update_raw: String,
    /// (key, data, expire_date): the base columns only, for raw writes.
    pub insert_raw: String,
    /// (account, now) -> session_key, expire_date of the account's live rows.
    pub list_account: Option<String>,
    /// (account, now): deletes the account's live rows.
    pub revoke_account: Option<String>,
    /// (account, key, now): deletes the account's live rows but the one of `key`.
    pub revoke_account_except: Option<String>,
}

impl Statements {
    /// Builds the statements. `table` and every column name must be validated
    /// identifiers (the callers guarantee it; checked again here for safety).
    pub(crate) fn build(
        dialect: Dialect,
        table: &str,
        extras: &[ExtraColumn],
        account_column: Option<&str>,
        version_column: Option<&str>,
        clear_batch: u32,
    ) -> Result<Self> {
        validate_identifier(table)?;
        for col in extras {
            validate_identifier(col.name())?;
        }
        for name in account_column.iter().chain(&version_column) {
            validate_identifier(name)?;
        }
        let d = dialect;
        let t = d.quote(table);
        let key = d.quote("session_key");
        let data = d.quote("session_data");
        let exp = d.quote("expire_date");
        let version = version_column.map(|c| d.quote(c));
        let p = |n: usize| d.param(n);

        // CREATE TABLE with Django's definitions, then the extra (nullable) columns.
        let mut defs = vec![
            format!("{key} varchar(40) NOT NULL PRIMARY KEY"),
            format!("{data} {} NOT NULL", d.data_type()),
            format!("{exp} {} NOT NULL", d.datetime_type()),
        ];
        defs.extend(
            extras
                .iter()
                .map(|c| format!("{} {} NULL", d.quote(c.name()), d.column_type(c.ty()))),
        );
        // Django's indexes (its `sqlmigrate sessions 0001`): `expire_date` and each
        // indexed extra column; on PostgreSQL also a `_like` index with the pattern
        // operator class for every indexed or unique varchar/text column, the primary
        // key included.
        let mut indexed: Vec<(&str, Option<&str>)> = vec![
            ("expire_date", None),
            ("session_key", Some("varchar_pattern_ops")),
        ];
        indexed.extend(extras.iter().filter(|c| c.is_indexed()).map(|c| {
            let ops = match c.ty() {
                ColumnType::VarChar(_) => Some("varchar_pattern_ops"),
                ColumnType::Text => Some("text_pattern_ops"),
                ColumnType::BigInt | ColumnType::Boolean => None,
            };
            (c.name(), ops)
        }));
        let mut create_indexes = Vec::new();
        for (column, ops) in indexed {
            let plain = column != "session_key";
            let col = d.quote(column);
            if plain {
                let name = d.quote(&django_index_name(table, column, "", d.max_name_len()));
                match d {
                    Dialect::MySql => defs.push(format!("INDEX {name} ({col})")),
                    Dialect::Sqlite | Dialect::Postgres => create_indexes
                        .push(format!("CREATE INDEX IF NOT EXISTS {name} ON {t} ({col})")),
                }
            }
            if let (Dialect::Postgres, Some(ops)) = (d, ops) {
                let name = d.quote(&django_index_name(table, column, "_like", d.max_name_len()));
                create_indexes.push(format!(
                    "CREATE INDEX IF NOT EXISTS {name} ON {t} ({col} {ops})"
                ));
            }
        }
        let create_table = format!("CREATE TABLE IF NOT EXISTS {t} ({})", defs.join(", "));
        // The version column is added by a statement of its own, to the table Django's
        // DDL created or to one Django created itself: one path for both.
        let version_sql = version_column
            .zip(version.as_ref())
            .map(|(name, quoted)| version_column_sql(d, table, name, quoted));

        let extra_names: Vec<String> = extras.iter().map(|c| d.quote(c.name())).collect();
        let mut insert_cols = vec![key.clone(), data.clone(), exp.clone()];
        insert_cols.extend(extra_names.iter().cloned());
        let insert_params: Vec<String> = (1..=insert_cols.len()).map(p).collect();
        let insert = format!(
            "INSERT INTO {t} ({}) VALUES ({})",
            insert_cols.join(", "),
            insert_params.join(", ")
        );
        let insert_raw = format!(
            "INSERT INTO {t} ({key}, {data}, {exp}) VALUES ({}, {}, {})",
            p(1),
            p(2),
            p(3)
        );

        // Every write of a versioned store counts the version up (rules V1, V3).
        let bump = version.as_ref().map(|v| format!("{v} = {v} + 1"));
        let mut sets = vec![format!("{data} = {}", p(1)), format!("{exp} = {}", p(2))];
        sets.extend(
            extra_names
                .iter()
                .enumerate()
                .map(|(i, name)| format!("{name} = {}", p(i + 3))),
        );
        let bound = sets.len();
        sets.extend(bump.iter().cloned());
        let sets = sets.join(", ");
        // H7: an expired row counts as absent, so only a live row is updated.
        let update = format!(
            "UPDATE {t} SET {sets} WHERE {key} = {} AND {exp} > {}",
            p(bound + 1),
            p(bound + 2)
        );
        let take_over = format!(
            "UPDATE {t} SET {sets} WHERE {key} = {} AND {exp} <= {}",
            p(bound + 1),
            p(bound + 2)
        );
        let update_if = version.as_ref().map(|v| {
            format!(
                "UPDATE {t} SET {sets} WHERE {key} = {} AND {v} = {} AND {exp} > {}",
                p(bound + 1),
                p(bound + 2),
                p(bound + 3)
            )
        });
        let touch_sets: Vec<String> = std::iter::once(format!("{exp} = {}", p(1)))
            .chain(bump.iter().cloned())
            .collect();
        let touch = format!(
            "UPDATE {t} SET {} WHERE {key} = {} AND {exp} > {}",
            touch_sets.join(", "),
            p(2),
            p(3)
        );
        let raw_sets: Vec<String> = [format!("{data} = {}", p(1)), format!("{exp} = {}", p(2))]
            .into_iter()
            .chain(extra_names.iter().map(|name| format!("{name} = NULL")))
            .chain(bump.iter().cloned())
            .collect();
        let update_raw = format!(
            "UPDATE {t} SET {} WHERE {key} = {}",
            raw_sets.join(", "),
            p(3)
        );

        let clear_batch = match d {
            // MySQL cannot LIMIT a subquery used with IN, but DELETE takes a LIMIT.
            Dialect::MySql => format!("DELETE FROM {t} WHERE {exp} < {} LIMIT {clear_batch}", p(1)),
            Dialect::Sqlite | Dialect::Postgres => format!(
                "DELETE FROM {t} WHERE {key} IN \
                 (SELECT {key} FROM {t} WHERE {exp} < {} LIMIT {clear_batch})",
                p(1)
            ),
        };

        let load_cols = match &version {
            Some(v) => format!("{data}, {exp}, {v}"),
            None => format!("{data}, {exp}"),
        };
        let account = account_column.map(|c| d.quote(c));
        Ok(Statements {
            create_table,
            create_indexes,
            version_column: version_sql,
            load: format!("SELECT {load_cols} FROM {t} WHERE {key} = {}", p(1)),
            exists: format!(
                "SELECT 1 FROM {t} WHERE {key} = {} AND {exp} > {}",
                p(1),
                p(2)
            ),
            insert,
            update,
            take_over,
            update_if,
            touch,
            delete: format!("DELETE FROM {t} WHERE {key} = {}", p(1)),
            clear_batch,
            read_raw: format!("SELECT {data}, {exp} FROM {t} WHERE {key} = {}", p(1)),
            update_raw,
            insert_raw,
            list_account: account.as_ref().map(|a| {
                format!(
                    "SELECT {key}, {exp} FROM {t} WHERE {a} = {} AND {exp} > {} \
                     ORDER BY {exp}, {key}",
                    p(1),
                    p(2)
                )
            }),
            revoke_account: account
                .as_ref()
                .map(|a| format!("DELETE FROM {t} WHERE {a} = {} AND {exp} > {}", p(1), p(2))),
            revoke_account_except: account.as_ref().map(|a| {
                format!(
                    "DELETE FROM {t} WHERE {a} = {} AND {key} <> {} AND {exp} > {}",
                    p(1),
                    p(2),
                    p(3)
                )
            }),
        })
    }
}

/// The catalogue query and the `ALTER TABLE` that give `table` the version column
/// `name` (`quoted` for this dialect). The query comes first, so a `migrate` at
/// every start takes no table lock once the column is there.
fn version_column_sql(d: Dialect, table: &str, name: &str, quoted: &str) -> VersionColumnSql {
    let t = d.quote(table);
    let (check, check_args) = match d {
        Dialect::Sqlite => (
            "SELECT COUNT(*) FROM pragma_table_info(?) WHERE name = ?".to_owned(),
            (table.to_owned(), name.to_owned()),
        ),
        // `to_regclass` resolves the quoted name through the `search_path`, as the
        // `ALTER TABLE` does.
        Dialect::Postgres => (
            "SELECT COUNT(*) FROM pg_attribute WHERE attrelid = to_regclass($1) \
             AND attname::text = $2 AND NOT attisdropped"
                .to_owned(),
            (t.clone(), name.to_owned()),
        ),
        Dialect::MySql => (
            "SELECT COUNT(*) FROM information_schema.columns \
             WHERE table_schema = DATABASE() AND table_name = ? AND column_name = ?"
                .to_owned(),
            (table.to_owned(), name.to_owned()),
        ),
    };
    // PostgreSQL's `IF NOT EXISTS` settles a race of two migrations; elsewhere the
    // loser's error is checked against the catalogue.
    let if_not_exists = if d == Dialect::Postgres {
        "IF NOT EXISTS "
    } else {
        ""
    };
    VersionColumnSql {
        check,
        check_args,
        add: format!(
            "ALTER TABLE {t} ADD COLUMN {if_not_exists}{quoted} bigint NOT NULL DEFAULT 0"
        ),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn identifiers() {
        for ok in ["a", "_", "django_session", "T1", &"x".repeat(63)] {
            assert!(validate_identifier(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "1a",
            "a-b",
            "a b",
            "a\"b",
            "a`b",
            "é",
            &"x".repeat(64),
            "a;",
        ] {
            assert!(validate_identifier(bad).is_err(), "{bad}");
        }
    }

    /// Names printed by Django 5.2.19's `_create_index_name` (PostgreSQL's 63-character
    /// limit for the long table).
    #[test]
    fn index_names_are_djangos() {
        assert_eq!(
            django_index_name("django_session", "expire_date", "", 63),
            "django_session_expire_date_a5c62663"
        );
        assert_eq!(
            django_index_name("django_session", "session_key", "_like", 63),
            "django_session_session_key_c0390e0f_like"
        );
        assert_eq!(
            django_index_name("django_session", "account_id", "", 63),
            "django_session_account_id_7238953d"
        );
        let long = format!("app_{}", "x".repeat(59));
        assert_eq!(
            django_index_name(&long, "expire_date", "", 63),
            "app_xxxxxxxxxxxxxxxxxxxxxx_expire_date_2521eded"
        );
        assert_eq!(
            django_index_name(&long, "session_key", "_like", 63),
            "app_xxxxxxxxxxxxxxxxxxxx_session_key_5cd1918c_like"
        );
        assert_eq!(
            django_index_name("_under", "expire_date", "", 63),
            "_under_expire_date_6e2fb257"
        );
        // Shortened names that would start with `_` or a digit get Django's `D`.
        let odd = format!("_{}", "y".repeat(62));
        let name = django_index_name(&odd, "expire_date", "", 63);
        assert!(name.starts_with("D_") && name.len() <= 63, "{name}");
        validate_identifier(&name).unwrap();
    }

    #[test]
    fn statements_bind_in_order_of_appearance() {
        let s =
            Statements::build(Dialect::Postgres, "django_session", &[], None, None, 500).unwrap();
        assert_eq!(
            s.update,
            "UPDATE \"django_session\" SET \"session_data\" = $1, \"expire_date\" = $2 \
             WHERE \"session_key\" = $3 AND \"expire_date\" > $4"
        );
        assert!(s.update_if.is_none() && s.version_column.is_none());
        // V1: the versioned save pins the version and counts it up, in one statement.
        let v = Statements::build(
            Dialect::Postgres,
            "django_session",
            &[],
            None,
            Some("version"),
            500,
        )
        .unwrap();
        assert_eq!(
            v.update_if.as_deref(),
            Some(
                "UPDATE \"django_session\" SET \"session_data\" = $1, \"expire_date\" = $2, \
                 \"version\" = \"version\" + 1 WHERE \"session_key\" = $3 AND \"version\" = $4 \
                 AND \"expire_date\" > $5"
            )
        );
        assert_eq!(
            v.touch,
            "UPDATE \"django_session\" SET \"expire_date\" = $1, \"version\" = \"version\" + 1 \
             WHERE \"session_key\" = $2 AND \"expire_date\" > $3"
        );
        assert!(s.clear_batch.ends_with("LIMIT 500)"));
        let m = Statements::build(Dialect::MySql, "s", &[], None, None, 7).unwrap();
        assert_eq!(
            m.clear_batch,
            "DELETE FROM `s` WHERE `expire_date` < ? LIMIT 7"
        );
        assert!(m.create_table.contains("INDEX `s_expire_date_"));
        assert!(!m.create_table.contains("_like"));
        assert!(m.create_indexes.is_empty());
        assert!(Statements::build(Dialect::Sqlite, "bad name", &[], None, None, 1).is_err());
        assert!(Statements::build(Dialect::Sqlite, "s", &[], None, Some("a b"), 1).is_err());
    }
}
