//! A section of a table: a backend (or the cookie codecs) with its columns, and
//! the cells each column is measured on.

use std::any::Any;

use crate::payload::PayloadSize;
use crate::subject::{Cell, Measured, Op};

/// The concurrencies of the store cells.
pub const TASKS: [usize; 2] = [1, 16];

/// One column of a section: measured, or absent for a reason.
pub struct Column {
    /// The column, when this section has it.
    pub measured: Option<Box<dyn Measured>>,
    /// Why it is absent.
    pub absent: &'static str,
}

impl Column {
    /// A measured column.
    pub fn of(measured: impl Measured + 'static) -> Self {
        Column {
            measured: Some(Box::new(measured)),
            absent: "",
        }
    }

    /// An absent column.
    pub fn none(why: &'static str) -> Self {
        Column {
            measured: None,
            absent: why,
        }
    }
}

/// Which table a section belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    /// Store operations: ours, raw, tower-sessions, Django.
    Stores,
    /// Cookie encode and decode: ours, the cookie crate's signed and private jars,
    /// actix-session, Django.
    Cookies,
    /// Requests through the middleware core: ours only.
    Requests,
    /// Saves of one store with `asave_if` beside plain `asave` (rule V1).
    Versions,
}

impl Table {
    /// The column headers, each with the short name of its ratio column.
    pub fn headers(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Table::Stores => &[
                ("ours", "ours"),
                ("raw client", "raw"),
                ("tower-sessions", "tower"),
                ("Django 5.2", "Django"),
            ],
            Table::Cookies => &[
                ("ours (signed_cookies)", "ours"),
                ("cookie SignedJar", "signed"),
                ("cookie PrivateJar", "private"),
                ("actix-session", "actix"),
                ("Django 5.2 signing", "Django"),
            ],
            Table::Requests => &[("ours (middleware core, memory store)", "ours")],
            Table::Versions => &[
                ("ours, versioned saves (asave_if)", "versioned"),
                ("ours, plain saves (asave)", "plain"),
            ],
        }
    }

    /// Every cell of a section of this table.
    pub fn cells(self) -> Vec<Cell> {
        let (ops, tasks): (&[Op], &[usize]) = match self {
            Table::Stores => (&Op::STORE, &TASKS),
            Table::Cookies => (&Op::COOKIE, &[1]),
            Table::Requests => (&Op::REQUEST, &TASKS),
            Table::Versions => (&Op::VERSIONED, &TASKS),
        };
        let mut cells = Vec::new();
        for &op in ops {
            for size in PayloadSize::ALL {
                for &tasks in tasks {
                    cells.push(Cell { op, size, tasks });
                }
            }
        }
        cells
    }
}

/// A backend and its columns.
pub struct Section {
    /// The row label.
    pub title: String,
    /// Which table.
    pub table: Table,
    /// The columns, in the order of [`Table::headers`].
    pub columns: Vec<Column>,
    /// What must live as long as the columns (clients whose drop ends their
    /// connection).
    pub keep: Vec<Box<dyn Any + Send + Sync>>,
}
