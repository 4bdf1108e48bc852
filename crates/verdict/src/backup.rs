//! `verdict backup` and `verdict restore`: the embedded database, where the money lives in one
//! file, copied while it serves and put back after checks; and its key secret with it, without
//! which no API key in the copy opens its account. SQLite only: PostgreSQL has its own tools
//! (README, "Backups"). Works on the files directly and never opens the engine, so a backup
//! neither migrates nor writes the database it copies.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use secrecy::ExposeSecret;
use serde_json::json;
use verdict_domain::keys::KeySecret;
use verdict_store::StoreError;
use verdict_store::sqlite::backup as copies;

use crate::config::{Config, DatabaseUrl};
use crate::server::{KEY_SECRET_FINGERPRINT, read_secret_file, secret_file_beside};

#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    /// Where to write the copy (readable by its owner only); the key secret goes beside it as
    /// FILE.key.
    file: PathBuf,
    /// Replace FILE and FILE.key if they exist.
    #[arg(long)]
    force: bool,
}

#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    /// A copy `verdict backup` wrote; FILE.key beside it is installed as the key secret.
    file: PathBuf,
    /// Install even when the database is in use or cannot be checked for use. A server still
    /// running on it keeps writing to the replaced file, and what it writes is lost: stop it.
    #[arg(long)]
    force: bool,
}

fn sqlite_path(config: &Config, command: &str) -> anyhow::Result<PathBuf> {
    match &config.database_url {
        DatabaseUrl::Sqlite(path) => Ok(path.clone()),
        DatabaseUrl::Postgres(_) => bail!(
            "verdict {command} copies the embedded SQLite database only. Back up PostgreSQL \
             with its own tools: pg_dump -Fc (restored with pg_restore) for a logical copy, or \
             pg_basebackup with WAL archiving for point-in-time recovery; and keep the key \
             secret (VERDICT_KEY_SECRET) with the copy. See README, \"Backups\"."
        ),
    }
}

/// The key secret the configuration names, as `serve` reads it first: the setting, then the
/// file setting. `None`: the secret lives beside the database as `<database>.key`.
fn configured_secret(config: &Config) -> anyhow::Result<Option<(String, KeySecret)>> {
    if let Some(text) = &config.key_secret {
        let secret = KeySecret::parse(text.expose_secret()).context("VERDICT_KEY_SECRET")?;
        return Ok(Some(("VERDICT_KEY_SECRET (key_secret)".into(), secret)));
    }
    if let Some(file) = &config.key_secret_file {
        let secret = read_secret_file(file)?;
        return Ok(Some((
            format!("key_secret_file ({})", file.display()),
            secret,
        )));
    }
    Ok(None)
}

pub async fn backup(args: BackupArgs, config: &Config) -> anyhow::Result<()> {
    let database = sqlite_path(config, "backup")?;
    let configured = configured_secret(config)?;
    tokio::task::spawn_blocking(move || take_backup(&database, &args, configured)).await?
}

pub async fn restore(args: RestoreArgs, config: &Config) -> anyhow::Result<()> {
    let database = sqlite_path(config, "restore")?;
    let configured = configured_secret(config)?;
    tokio::task::spawn_blocking(move || install(&database, &args, configured)).await?
}

fn take_backup(
    database: &Path,
    args: &BackupArgs,
    configured: Option<(String, KeySecret)>,
) -> anyhow::Result<()> {
    let file = &args.file;
    let key_file = secret_file_beside(file);
    if !database.is_file() {
        bail!("there is no database at {}", database.display());
    }
    if same_file(database, file) {
        bail!("{} is the database itself", file.display());
    }
    if !args.force {
        for existing in [file, &key_file] {
            if existing.exists() {
                bail!(
                    "{} exists: choose another name, or --force to replace it",
                    existing.display()
                );
            }
        }
    }
    let partial = beside(file, ".partial");
    remove_staged(&partial)?;
    create_private(&partial)?;
    let mut cleanup = Cleanup(Some(&partial));
    let (copied, inspection, copy_time, check_time) = copy_and_check(database, &partial)?;
    if let Some(problem) = refusal_of_copy(&inspection) {
        bail!(
            "the copy of {} {problem}: the database itself may be damaged; no backup was written",
            database.display()
        );
    }
    // The key secret: copied beside the backup, unless the configuration supplies it.
    let fingerprint = inspection.meta.as_deref();
    let key_copied = match configured {
        Some((source, secret)) => {
            check_fingerprint(fingerprint, &secret, &source, database)?;
            eprintln!(
                "verdict: the key secret comes from {source} and is not copied: keep it with \
                 the backup, or no API key in it will open its account"
            );
            if args.force {
                // One a previous backup left under this name would not belong to this one.
                remove_if_exists(&key_file)?;
            }
            None
        }
        None => {
            let own = secret_file_beside(database);
            if own.exists() {
                let secret = read_secret_file(&own)?;
                check_fingerprint(fingerprint, &secret, &own.display().to_string(), database)?;
                let bytes = fs::read(&own).with_context(|| format!("reading {}", own.display()))?;
                write_private(&key_file, &bytes)?;
                Some(key_file)
            } else if fingerprint.is_some() {
                bail!(
                    "{} holds keys hashed under a key secret, but {} is missing, so a backup \
                     would open no account: restore that file, or set VERDICT_KEY_SECRET",
                    database.display(),
                    own.display()
                );
            } else {
                // A database no server has started on yet: no key has been hashed.
                None
            }
        }
    };
    File::open(&partial)?.sync_all()?;
    fs::rename(&partial, file).with_context(|| format!("renaming to {}", file.display()))?;
    cleanup.disarm();
    sync_dir(file)?;
    crate::commands::print(&json!({
        "backup": file.display().to_string(),
        "key_file": key_copied.map(|k| k.display().to_string()),
        "bytes": copied.bytes(),
        "pages": copied.pages,
        "copy_seconds": copy_time,
        "check_seconds": check_time,
        "integrity": "ok",
        "migrations": inspection.migrations.map_or(0, |m| m.len()),
    }))
}

fn copy_and_check(
    database: &Path,
    partial: &Path,
) -> anyhow::Result<(copies::Copied, copies::Inspection, f64, f64)> {
    let started = Instant::now();
    let copied = copies::copy(database, partial)
        .with_context(|| format!("copying {}", database.display()))?;
    let copy_time = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let inspection = copies::inspect(partial, KEY_SECRET_FINGERPRINT)
        .with_context(|| format!("checking the copy {}", partial.display()))?;
    Ok((
        copied,
        inspection,
        copy_time,
        started.elapsed().as_secs_f64(),
    ))
}

/// What is wrong with a copy, if anything: damaged, or not a verdict database.
fn refusal_of_copy(inspection: &copies::Inspection) -> Option<String> {
    if let Some(why) = &inspection.unreadable {
        return Some(format!(
            "cannot be read as a SQLite database: it is damaged, or not one ({why})"
        ));
    }
    if !inspection.problems.is_empty() {
        return Some(format!(
            "is damaged: SQLite's integrity check found {}",
            inspection.problems.join("; ")
        ));
    }
    let Some(migrations) = &inspection.migrations else {
        return Some("is not a verdict database (it has no schema_migrations table)".into());
    };
    if !migrations
        .iter()
        .any(|m| m == verdict_store::MIGRATION_NAMES[0])
    {
        return Some("is not a verdict database (its schema_migrations are not ours)".into());
    }
    None
}

/// A migration of the copy this build does not know: it was written by a newer verdict, whose
/// schema this one must not serve (a backup of it is still a backup).
fn newer_migration(inspection: &copies::Inspection) -> Option<&str> {
    inspection
        .migrations
        .iter()
        .flatten()
        .find(|m| !verdict_store::MIGRATION_NAMES.contains(&m.as_str()))
        .map(String::as_str)
}

fn check_fingerprint(
    stored: Option<&str>,
    secret: &KeySecret,
    source: &str,
    database: &Path,
) -> anyhow::Result<()> {
    match stored {
        Some(stored) if stored != secret.fingerprint() => bail!(
            "the key secret from {source} is not the one the API keys in {} were hashed under: \
             with it every client would be refused",
            database.display()
        ),
        _ => Ok(()),
    }
}

fn install(
    database: &Path,
    args: &RestoreArgs,
    configured: Option<(String, KeySecret)>,
) -> anyhow::Result<()> {
    let file = &args.file;
    if !file.is_file() {
        bail!("there is no file {}", file.display());
    }
    if same_file(database, file) {
        bail!("{} is the database itself", file.display());
    }
    let file_wal = beside(file, "-wal");
    if file_wal.exists() {
        bail!(
            "{} is beside the copy: its last commits may be there and not in the file. Restore \
             a copy `verdict backup` wrote (one file), or open this one with sqlite3 once so \
             that it takes them in",
            file_wal.display()
        );
    }
    // Checked and installed as one private copy beside the database: what was checked is what
    // is renamed into place, and the backup itself is never opened for writing.
    let staged = beside(database, ".restoring");
    remove_staged(&staged)?;
    let mut to = create_private(&staged)?;
    let mut cleanup = Cleanup(Some(&staged));
    let mut from = File::open(file).with_context(|| format!("reading {}", file.display()))?;
    std::io::copy(&mut from, &mut to)?;
    to.sync_all()?;
    drop(to);
    let inspection = copies::inspect(&staged, KEY_SECRET_FINGERPRINT)?;
    if let Some(problem) = refusal_of_copy(&inspection) {
        bail!("{} {problem}; nothing was installed", file.display());
    }
    if let Some(newer) = newer_migration(&inspection) {
        bail!(
            "{} was written by a newer verdict (migration {newer}): restore it with that \
             version; nothing was installed",
            file.display()
        );
    }

    // The secret the server will hash keys under once the copy is installed: the configured
    // one, else the FILE.key written with the backup (installed as `<database>.key`), else
    // the one already beside the database.
    let backup_key = secret_file_beside(file);
    let own_key = secret_file_beside(database);
    let (secret, install_key) = match configured {
        Some((source, secret)) => {
            if backup_key.exists() {
                eprintln!(
                    "verdict: the key secret comes from {source}; {} is not installed",
                    backup_key.display()
                );
            }
            (Some((source, secret)), None)
        }
        None if backup_key.exists() => {
            let secret = read_secret_file(&backup_key)?;
            let bytes = fs::read(&backup_key)?;
            (
                Some((backup_key.display().to_string(), secret)),
                Some(bytes),
            )
        }
        None if own_key.exists() => (
            Some((own_key.display().to_string(), read_secret_file(&own_key)?)),
            None,
        ),
        None => (None, None),
    };
    match (inspection.meta.as_deref(), &secret) {
        (Some(_), None) => bail!(
            "the API keys in {} are hashed under a key secret, and there is none to use: put \
             the {} written with the backup beside it, or set VERDICT_KEY_SECRET; nothing was \
             installed",
            file.display(),
            backup_key.display()
        ),
        (Some(stored), Some((source, secret))) if stored != secret.fingerprint() => bail!(
            "the key secret from {source} is not the one the API keys in {} were hashed under: \
             with it every client would be refused. Use the key file written with this backup, \
             or the secret it was made with; nothing was installed",
            file.display()
        ),
        _ => {}
    }

    let held = if database.exists() {
        match copies::exclusive(database) {
            Ok(held) => Some(held),
            Err(e) if args.force => {
                eprintln!(
                    "verdict: --force: installing over {} without holding it ({}); a server \
                     still running on it writes to the replaced file from now on: restart it",
                    database.display(),
                    verdict_engine::chain(&e)
                );
                None
            }
            Err(e @ StoreError::Unavailable { .. }) => {
                return Err(anyhow::Error::new(e).context(format!(
                    "{} is in use (a verdict server running on it?): stop it and run restore \
                     again, or use --force; nothing was installed",
                    database.display()
                )));
            }
            Err(e) => {
                return Err(anyhow::Error::new(e).context(format!(
                    "cannot tell whether {} is in use: once no server runs on it, use --force; \
                     nothing was installed",
                    database.display()
                )));
            }
        }
    } else {
        None
    };
    if let Some(bytes) = &install_key {
        write_private(&own_key, bytes)?;
    }
    // The old database's WAL must not meet the new file: SQLite would replay its frames onto
    // it. Held, the database has none left (`exclusive` checkpointed and removed it); forced,
    // they belong to the old file.
    for suffix in ["-wal", "-shm"] {
        remove_if_exists(&beside(database, suffix))?;
    }
    fs::rename(&staged, database)
        .with_context(|| format!("renaming {} to {}", staged.display(), database.display()))?;
    cleanup.disarm();
    sync_dir(database)?;
    if let Some(held) = held {
        held.release()?;
    }
    let migrations = inspection.migrations.unwrap_or_default();
    crate::commands::print(&json!({
        "restored": database.display().to_string(),
        "from": file.display().to_string(),
        "bytes": fs::metadata(database)?.len(),
        "migrations": migrations.len(),
        "migrations_to_apply": verdict_store::MIGRATION_NAMES.len().saturating_sub(migrations.len()),
        "key_secret": secret.map(|(source, _)| source),
        "key_file_installed": install_key.is_some().then(|| own_key.display().to_string()),
    }))
}

/// Removes a staged copy (and what SQLite left beside it) when dropped, unless disarmed once it
/// has been renamed into place: a refused or failed command leaves nothing behind.
struct Cleanup<'a>(Option<&'a Path>);

impl Cleanup<'_> {
    fn disarm(&mut self) {
        self.0 = None;
    }
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        if let Some(path) = self.0 {
            let _ = remove_staged(path);
        }
    }
}

/// `verdict.db` + `.partial` → `verdict.db.partial`.
fn beside(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (fs::canonicalize(a), fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

fn remove_if_exists(path: &Path) -> anyhow::Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("removing {}", path.display())),
    }
}

/// A staged copy and whatever SQLite left beside it.
fn remove_staged(staged: &Path) -> anyhow::Result<()> {
    for suffix in ["", "-journal", "-wal", "-shm"] {
        remove_if_exists(&beside(staged, suffix))?;
    }
    Ok(())
}

/// Creates an empty file readable and writable by its owner only.
fn create_private(path: &Path) -> anyhow::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))
}

/// Writes `bytes` to `path` atomically, readable by its owner only: beside it, synced, renamed.
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let partial = beside(path, ".partial");
    remove_if_exists(&partial)?;
    let mut out = create_private(&partial)?;
    out.write_all(bytes)?;
    out.sync_all()?;
    drop(out);
    fs::rename(&partial, path).with_context(|| format!("renaming to {}", path.display()))?;
    sync_dir(path)
}

/// Makes a rename in `path`'s directory durable.
fn sync_dir(path: &Path) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("syncing the directory {}", dir.display()))
}
