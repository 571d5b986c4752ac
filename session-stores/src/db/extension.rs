//! Custom session records (rule E2, Django's `create_model_instance`): extra columns
//! filled from the session data on every save.

use std::fmt;

use session_api::store::auth_account_id;
use session_api::{Result, SessionData};

use super::sql::validate_identifier;

/// The SQL type of an extra column. Every extra column is nullable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ColumnType {
    /// `bigint`; takes [`ExtraValue::BigInt`].
    BigInt,
    /// `text` (MySQL: `longtext`); takes [`ExtraValue::Text`].
    Text,
    /// `varchar(n)`; takes [`ExtraValue::Text`]. Longer text is the database's error.
    VarChar(u16),
    /// `boolean` (SQLite and MySQL: `bool`); takes [`ExtraValue::Bool`].
    Boolean,
}

/// A column added to the session table by a [`RecordExtension`].
///
/// ```
/// use session_stores::db::{ColumnType, ExtraColumn};
/// let col = ExtraColumn::new("tenant", ColumnType::VarChar(64)).unwrap().indexed();
/// assert_eq!(col.name(), "tenant");
/// assert!(col.is_indexed());
/// assert!(ExtraColumn::new("bad name", ColumnType::Text).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraColumn {
    name: String,
    ty: ColumnType,
    indexed: bool,
}

impl ExtraColumn {
    /// A nullable, unindexed column.
    ///
    /// # Errors
    ///
    /// [`session_api::Error::Configuration`] when `name` is not an SQL identifier
    /// (`[A-Za-z_][A-Za-z0-9_]{0,62}`).
    pub fn new(name: &str, ty: ColumnType) -> Result<Self> {
        validate_identifier(name)?;
        Ok(ExtraColumn {
            name: name.to_owned(),
            ty,
            indexed: false,
        })
    }

    /// Builder-style: `migrate` also creates an index on this column.
    #[must_use]
    pub fn indexed(mut self) -> Self {
        self.indexed = true;
        self
    }

    /// The column name (a validated identifier).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The SQL type.
    pub fn ty(&self) -> ColumnType {
        self.ty
    }

    /// Whether `migrate` indexes it.
    pub fn is_indexed(&self) -> bool {
        self.indexed
    }
}

/// A value for an extra column, always sent as a bound parameter.
///
/// It is a piece of the session data, so its `Debug` shows the kind of value and
/// not the value: `BigInt(..)`, `Text(<5 bytes>)`.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExtraValue {
    /// SQL `NULL` (any column type).
    Null,
    /// For [`ColumnType::BigInt`].
    BigInt(i64),
    /// For [`ColumnType::Text`] and [`ColumnType::VarChar`].
    Text(String),
    /// For [`ColumnType::Boolean`].
    Bool(bool),
}

impl fmt::Debug for ExtraValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExtraValue::Null => f.write_str("Null"),
            ExtraValue::BigInt(_) => f.write_str("BigInt(..)"),
            ExtraValue::Text(text) => write!(f, "Text(<{} bytes>)", text.len()),
            ExtraValue::Bool(_) => f.write_str("Bool(..)"),
        }
    }
}

/// Django's "Extending database-backed session engines" (rule E2): extra columns of
/// the session table and how to fill them from the data, written on every save.
///
/// The store checks the declaration once when it is built (valid names, no clash with
/// the base columns or each other) and, on each save, that [`values`](Self::values)
/// gives one value per column, of the column's type.
pub trait RecordExtension: Send + Sync + fmt::Debug {
    /// The extra columns, in a fixed order.
    fn columns(&self) -> &[ExtraColumn];

    /// One value per column, in the order of [`columns`](Self::columns).
    fn values(&self, data: &SessionData) -> Vec<ExtraValue>;

    /// The name of the [`ColumnType::BigInt`] column that identifies the account, if
    /// any: it gives the store its account index (rule S5,
    /// [`session_api::AsyncSessionStore::accounts`]). Its values should be
    /// [`session_api::store::auth_account_id`] of the data, as
    /// [`AccountIdColumn`]'s are.
    fn account_column(&self) -> Option<&str> {
        None
    }
}

/// The seed's example, ready-made: an indexed, nullable `account_id bigint` filled
/// from `_auth_user_id` (Django stores the user's primary key there as a string, e.g.
/// `"42"`; a JSON integer is accepted too). Anything that is not an integer is `NULL`.
///
/// ```
/// use session_stores::db::{AccountIdColumn, ExtraValue, RecordExtension};
/// use session_api::SessionData;
/// let ext = AccountIdColumn::new();
/// let mut data = SessionData::new();
/// assert_eq!(ext.values(&data), vec![ExtraValue::Null]);
/// data.set("_auth_user_id", "42").unwrap();
/// assert_eq!(ext.values(&data), vec![ExtraValue::BigInt(42)]);
/// assert_eq!(ext.account_column(), Some("account_id"));
/// ```
#[derive(Debug, Clone)]
pub struct AccountIdColumn {
    columns: [ExtraColumn; 1],
}

impl AccountIdColumn {
    /// The column `account_id`.
    pub fn new() -> Self {
        AccountIdColumn {
            columns: [ExtraColumn {
                name: "account_id".to_owned(),
                ty: ColumnType::BigInt,
                indexed: true,
            }],
        }
    }

    /// The same column under another name.
    ///
    /// # Errors
    ///
    /// [`session_api::Error::Configuration`] when `name` is not an SQL identifier.
    pub fn named(name: &str) -> Result<Self> {
        Ok(AccountIdColumn {
            columns: [ExtraColumn::new(name, ColumnType::BigInt)?.indexed()],
        })
    }

    /// The account id stored in `data`, if it is an integer: the account every
    /// index of this project files a session under
    /// ([`session_api::store::auth_account_id`]).
    pub fn account_id(data: &SessionData) -> Option<i64> {
        auth_account_id(data)
    }
}

impl Default for AccountIdColumn {
    fn default() -> Self {
        Self::new()
    }
}

impl RecordExtension for AccountIdColumn {
    fn columns(&self) -> &[ExtraColumn] {
        &self.columns
    }

    fn values(&self, data: &SessionData) -> Vec<ExtraValue> {
        vec![Self::account_id(data).map_or(ExtraValue::Null, ExtraValue::BigInt)]
    }

    fn account_column(&self) -> Option<&str> {
        Some(self.columns[0].name())
    }
}
