//! Copies of a SQLite database, for `verdict backup` and `verdict restore`: a consistent copy
//! taken beside a running server, the checks a copy passes before it is installed, and the lock
//! that shows a database is in use. File names, permissions, syncing and renames are the
//! caller's.

use std::path::Path;
use std::time::Duration;

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags, OptionalExtension};

use crate::{StoreError, StoreResult};

/// How many times a copy retries while the source is locked (a WAL recovery, an exclusive
/// lock), a short pause apart.
const BUSY_RETRIES: u32 = 200;
const BUSY_PAUSE: Duration = Duration::from_millis(50);

/// What [`copy`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Copied {
    pub pages: u64,
    pub page_size: u64,
}

impl Copied {
    pub fn bytes(self) -> u64 {
        self.pages * self.page_size
    }
}

/// Opens an existing database for reading and writing, never creating one: a mistyped path is
/// an error, not a new empty database.
fn open_existing(path: &Path) -> StoreResult<Connection> {
    if !path.is_file() {
        return Err(StoreError::other(format!(
            "{} does not exist or is not a file",
            path.display()
        )));
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    Connection::open_with_flags(path, flags)
        .map_err(|e| StoreError::unavailable(format!("cannot open {}", path.display())).because(e))
}

/// Copies the database at `source` into `dest`, an empty file the caller created, as the
/// database was when the copy began, while a server may be writing to it.
///
/// SQLite's online backup API, in one step, rather than `VACUUM INTO`: one step copies every
/// page inside a single read transaction of the source, and in WAL mode a read transaction sees
/// exactly the commits before it began and never blocks the server's writer (it only holds back
/// checkpoints until it ends). Every report answered before the copy began was committed before
/// it began — the writer answers after the commit — so it is in the copy. Pages are copied as
/// they are; `VACUUM INTO` would rebuild every table and index, several times the CPU on a
/// machine that is serving meanwhile, for a smaller file. Copying in several steps would let
/// the server's commits between steps restart the copy (the source changed under another
/// connection), which under steady load need never finish.
///
/// The copy is left in rollback-journal mode, so that it is one self-contained file (the
/// source's header says WAL), and it is not synced: the caller syncs it before renaming it
/// into place.
pub fn copy(source: &Path, dest: &Path) -> StoreResult<Copied> {
    let src = open_existing(source)?;
    src.busy_timeout(super::BUSY_TIMEOUT)?;
    let mut dst = Connection::open(dest)?;
    // No sync while the copy is written: until the caller syncs and renames it, it is nothing
    // anyone relies on.
    dst.pragma_update(None, "synchronous", "OFF")?;
    {
        let backup = Backup::new(&src, &mut dst)?;
        let mut busy = 0;
        loop {
            match backup.step(-1)? {
                StepResult::Done => break,
                StepResult::More => continue,
                StepResult::Busy | StepResult::Locked if busy < BUSY_RETRIES => {
                    busy += 1;
                    std::thread::sleep(BUSY_PAUSE);
                }
                StepResult::Busy | StepResult::Locked => {
                    return Err(StoreError::unavailable(format!(
                        "{} stayed locked; no copy was taken",
                        source.display()
                    )));
                }
                other => {
                    return Err(StoreError::other(format!(
                        "the copy stopped unexpectedly ({other:?})"
                    )));
                }
            }
        }
    }
    let mode: String = dst.pragma_update_and_check(None, "journal_mode", "DELETE", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("delete") {
        return Err(StoreError::other(format!(
            "the copy stayed in journal mode {mode}"
        )));
    }
    let pages: i64 = dst.query_row("PRAGMA page_count", [], |r| r.get(0))?;
    let page_size: i64 = dst.query_row("PRAGMA page_size", [], |r| r.get(0))?;
    dst.close().map_err(|(_, e)| StoreError::from(e))?;
    Ok(Copied {
        pages: pages.max(0) as u64,
        page_size: page_size.max(0) as u64,
    })
}

/// What a copy says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspection {
    /// Why the file cannot be read as a database at all (not SQLite, or damaged where the
    /// checks themselves stop).
    pub unreadable: Option<String>,
    /// What `PRAGMA integrity_check` and `PRAGMA foreign_key_check` found wrong; empty when the
    /// file is sound.
    pub problems: Vec<String>,
    /// The migrations recorded in `schema_migrations`, oldest first; `None` without that table
    /// (not a verdict database).
    pub migrations: Option<Vec<String>>,
    /// The value of the `meta` key asked for, if the table and the key exist.
    pub meta: Option<String>,
}

/// Checks the database at `path` (a copy: it is opened for writing, as SQLite needs for a file
/// in WAL mode) and reads what a restore decides on.
pub fn inspect(path: &Path, meta_key: &str) -> StoreResult<Inspection> {
    let conn = open_existing(path)?;
    let mut inspection = Inspection {
        unreadable: None,
        problems: Vec::new(),
        migrations: None,
        meta: None,
    };
    // A file that is not a database, or whose first pages are damaged, fails the check itself.
    let integrity = (|| -> rusqlite::Result<Vec<String>> {
        conn.prepare("PRAGMA integrity_check(20)")?
            .query_map([], |r| r.get(0))?
            .collect()
    })();
    match integrity {
        Ok(rows) => inspection.problems = rows.into_iter().filter(|p| p != "ok").collect(),
        Err(e) => {
            inspection.unreadable = Some(e.to_string());
            return Ok(inspection);
        }
    }
    if !inspection.problems.is_empty() {
        return Ok(inspection);
    }
    let foreign = (|| -> rusqlite::Result<Vec<String>> {
        let mut stmt = conn.prepare("PRAGMA foreign_key_check")?;
        let rows = stmt.query_map([], |r| {
            Ok(format!(
                "a row of {} (rowid {:?}) refers to a missing row of {}",
                r.get::<_, String>(0)?,
                r.get::<_, Option<i64>>(1)?,
                r.get::<_, String>(2)?
            ))
        })?;
        rows.take(20).collect()
    })();
    match foreign {
        Ok(rows) => inspection.problems = rows,
        Err(e) => inspection.problems.push(e.to_string()),
    }
    if !inspection.problems.is_empty() {
        return Ok(inspection);
    }
    let has = |table: &str| -> StoreResult<bool> {
        Ok(conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1)",
            [table],
            |r| r.get(0),
        )?)
    };
    if has("schema_migrations")? {
        inspection.migrations = Some(
            conn.prepare("SELECT version FROM schema_migrations ORDER BY version")?
                .query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?,
        );
    }
    if has("meta")? {
        inspection.meta = conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [meta_key], |r| {
                r.get(0)
            })
            .optional()?;
    }
    Ok(inspection)
}

/// A database no other connection has open, held so until dropped.
#[derive(Debug)]
pub struct Exclusive {
    conn: Connection,
}

/// Takes the database at `path` for this process alone, or fails with
/// [`StoreError::Unavailable`] ("locked") while any other connection — a running server's
/// readers or writer, in any process — has it open.
///
/// How: in WAL mode every open connection keeps a shared lock on the database file for as long
/// as it is open (that is how SQLite finds the last one to close), and switching a database out
/// of WAL mode needs the exclusive lock. So with `locking_mode=EXCLUSIVE` (locks are kept until
/// the connection closes), `journal_mode=DELETE` succeeds only when nobody else has the file
/// open; it also checkpoints the WAL into the file and deletes the `-wal` and `-shm` files.
/// `BEGIN EXCLUSIVE` then takes the exclusive lock and `ROLLBACK` ends the transaction with the
/// lock still held (exclusive locking mode), so that nobody can start using the old database
/// while it is replaced. The rollback journal SQLite keeps meanwhile has a zeroed header (never
/// "hot"), and closing the connection deletes it.
pub fn exclusive(path: &Path) -> StoreResult<Exclusive> {
    let conn = open_existing(path)?;
    conn.busy_timeout(Duration::ZERO)?;
    conn.pragma_update(None, "locking_mode", "EXCLUSIVE")?;
    let mode: String =
        conn.pragma_update_and_check(None, "journal_mode", "DELETE", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("delete") {
        return Err(StoreError::other(format!(
            "{} stayed in journal mode {mode}",
            path.display()
        )));
    }
    conn.execute_batch("BEGIN EXCLUSIVE; ROLLBACK")?;
    Ok(Exclusive { conn })
}

impl Exclusive {
    /// Lets go of the database (closing the connection).
    pub fn release(self) -> StoreResult<()> {
        self.conn.close().map_err(|(_, e)| StoreError::from(e))
    }
}
