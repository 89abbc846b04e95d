//! Group commit for SQLite: concurrent writes share one transaction, so one fsync
//! acknowledges many of them.
//!
//! A commit costs an fsync (milliseconds on a busy disk). The writer task takes every job
//! waiting in its queue, runs each inside its own SAVEPOINT (a failing job is rolled back
//! alone), then COMMITs once and only then answers every caller: a 2xx still means the
//! write is on disk. When the server is idle a job runs at once; batches form only while
//! a commit is in flight.
//!
//! Writes to FTS5 tables wait until every job of the batch has run: FTS5 flushes the terms
//! it holds to a new segment of its index at every savepoint once it has been written in
//! the transaction, so indexing inside each job's savepoint wrote (and then merged) one
//! segment per job. A job leaves them in [`Later`]; they run after the last job, before
//! the COMMIT, as single-row inserts (a statement that may write several rows opens a
//! savepoint of its own), so FTS5 flushes once, at the commit.
//!
//! The jobs run through rusqlite on the writer connection's own handle, which sqlx lends
//! while it is locked (`lock_handle`): each statement is a call on this thread. Through
//! sqlx, each is a round trip to the connection's thread, and a batch's dozens of
//! statements in series made those round trips, not the disk, the limit on writes. The
//! COMMIT (the fsync) still goes through sqlx, on its thread, off the async workers.

use rusqlite::Connection;
use sqlx::{Pool, Sqlite, SqliteConnection};
use tokio::sync::{mpsc, oneshot};

use super::direct::{execute, NO_VALUES};
use crate::store::{is_busy, StoreError, StoreResult};

/// Why a batch failed, for every caller in it (busy: the database was locked).
#[derive(Debug, Clone)]
struct CommitFailure {
    busy: bool,
    message: String,
}

impl From<&sqlx::Error> for CommitFailure {
    fn from(error: &sqlx::Error) -> Self {
        CommitFailure {
            busy: is_busy(error),
            message: error.to_string(),
        }
    }
}

impl From<rusqlite::Error> for CommitFailure {
    fn from(error: rusqlite::Error) -> Self {
        let message = error.to_string();
        CommitFailure {
            busy: matches!(StoreError::from(error), StoreError::Busy),
            message,
        }
    }
}

impl From<CommitFailure> for StoreError {
    fn from(failure: CommitFailure) -> Self {
        if failure.busy {
            StoreError::Busy
        } else {
            StoreError::Other(anyhow::anyhow!(failure.message))
        }
    }
}

/// Answers a job's caller once the batch's fate is known.
type Completion = Box<dyn FnOnce(Result<(), CommitFailure>) + Send>;
/// Runs a job on the writer connection: (whether it succeeded, how to answer it). Given
/// no connection, the job does not run and its completion answers the batch's failure.
type Job = Box<dyn FnOnce(Option<(&Connection, &mut Later)>) -> (bool, Completion) + Send>;

/// A write run after the batch's jobs.
type Write = Box<dyn FnOnce(&Connection) -> rusqlite::Result<()> + Send>;

/// The writes jobs leave for after the batch's last job (see the module's doc); a job
/// that fails leaves none.
#[derive(Default)]
pub struct Later(Vec<Write>);

impl Later {
    pub fn push(
        &mut self,
        write: impl FnOnce(&Connection) -> rusqlite::Result<()> + Send + 'static,
    ) {
        self.0.push(Box::new(write));
    }
}

/// The most jobs one transaction takes.
const MAX_BATCH: usize = 256;
/// The most batches in a row on one turn with the writer connection.
const MAX_BATCHES_HELD: u32 = 4;

pub struct GroupCommitter {
    jobs: mpsc::Sender<Job>,
}

impl GroupCommitter {
    /// Starts the writer task on `pool` (the single writer connection).
    pub fn start(pool: Pool<Sqlite>) -> Self {
        let (jobs, queue) = mpsc::channel::<Job>(4 * MAX_BATCH);
        tokio::spawn(writer(pool, queue));
        GroupCommitter { jobs }
    }

    /// Runs `work` atomically (alone or with others in one transaction) and returns its
    /// result after the commit. `work` runs on the writer task: statements only, no
    /// waiting on anything else.
    pub async fn run<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &mut Later) -> StoreResult<T> + Send + 'static,
    {
        let (answer, answered) = oneshot::channel::<StoreResult<T>>();
        let job: Job = Box::new(move |writer| {
            let Some((db, later)) = writer else {
                let refused: Completion = Box::new(move |commit| {
                    let _ = answer.send(Err(match commit {
                        Err(failure) => failure.into(),
                        Ok(()) => StoreError::Other(anyhow::anyhow!("the write did not run")),
                    }));
                });
                return (false, refused);
            };
            let mut own = Later::default();
            let result = work(db, &mut own);
            let ok = result.is_ok();
            if ok {
                later.0.append(&mut own.0);
            }
            let completion: Completion = Box::new(move |commit| {
                let _ = answer.send(match commit {
                    Ok(()) => result,
                    Err(failure) => Err(failure.into()),
                });
            });
            (ok, completion)
        });
        self.jobs.send(job).await.map_err(|_| {
            StoreError::Other(anyhow::anyhow!("the SQLite writer task has stopped"))
        })?;
        answered.await.map_err(|_| {
            StoreError::Other(anyhow::anyhow!("the SQLite writer task dropped a write"))
        })?
    }
}

async fn writer(pool: Pool<Sqlite>, mut queue: mpsc::Receiver<Job>) {
    while let Some(first) = queue.recv().await {
        let mut batch = take_batch(first, &mut queue);
        let mut conn = match pool.acquire().await {
            Ok(conn) => conn,
            Err(e) => {
                // Nothing ran: answer every job with the failure (they never touched disk).
                let mut completions = Vec::with_capacity(batch.len());
                refuse(batch, &mut completions);
                answer(completions, Err((&e).into()));
                continue;
            }
        };
        // While writes keep coming, the next batch runs on the connection this one had:
        // giving it back costs sqlx a round trip to its thread (a ping), and taking it
        // again another. Other writers, queued on the pool, wait at most a few batches.
        for held in 1.. {
            let mut completions = Vec::with_capacity(batch.len());
            let outcome = run_batch(&mut conn, batch, &mut completions).await;
            answer(completions, outcome);
            if held == MAX_BATCHES_HELD {
                break;
            }
            match queue.try_recv() {
                Ok(next) => batch = take_batch(next, &mut queue),
                Err(_) => break,
            }
        }
    }
}

/// `first` and every job queued behind it, up to [`MAX_BATCH`].
fn take_batch(first: Job, queue: &mut mpsc::Receiver<Job>) -> Vec<Job> {
    let mut batch = vec![first];
    while batch.len() < MAX_BATCH {
        match queue.try_recv() {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
    }
    batch
}

/// Tells every caller of a batch how it ended.
fn answer(completions: Vec<Completion>, outcome: Result<(), CommitFailure>) {
    if let Err(cause) = &outcome {
        tracing::error!(error = %cause.message, jobs = completions.len(), "group commit failed");
    }
    for complete in completions {
        complete(outcome.clone());
    }
}

/// One transaction for the whole batch on the writer connection; each job in a
/// savepoint.
async fn run_batch(
    conn: &mut SqliteConnection,
    batch: Vec<Job>,
    completions: &mut Vec<Completion>,
) -> Result<(), CommitFailure> {
    let ran = match conn.lock_handle().await {
        Ok(mut handle) => {
            // SAFETY: while `handle` lives, sqlx's thread makes no call on this
            // connection (that is what `lock_handle` is for), and `db`, which does not
            // close the handle it wraps, is dropped first, at the end of this arm.
            #[allow(unsafe_code)]
            match unsafe { Connection::from_handle(handle.as_raw_handle().as_ptr()) } {
                Ok(db) => run_jobs(&db, batch, completions),
                Err(e) => {
                    refuse(batch, completions);
                    Err(e.into())
                }
            }
        }
        Err(e) => {
            refuse(batch, completions);
            return Err((&e).into());
        }
    };
    let committed = match ran {
        Ok(()) => sqlx::query("COMMIT")
            .execute(&mut *conn)
            .await
            .map(drop)
            .map_err(|e| CommitFailure::from(&e)),
        Err(failure) => Err(failure),
    };
    if committed.is_err() {
        // Whatever is left of the transaction must not stay open on the connection.
        let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
    }
    committed
}

/// BEGIN, every job in its savepoint, then what they left for later; the caller commits.
fn run_jobs(
    db: &Connection,
    batch: Vec<Job>,
    completions: &mut Vec<Completion>,
) -> Result<(), CommitFailure> {
    let mut jobs = batch.into_iter();
    let mut later = Later::default();
    if let Err(e) = db.execute_batch("BEGIN IMMEDIATE") {
        refuse(jobs, completions);
        return Err(e.into());
    }
    while let Some(job) = jobs.next() {
        if let Err(e) = execute(db, "SAVEPOINT job", NO_VALUES) {
            completions.push(job(None).1);
            refuse(jobs, completions);
            return Err(e.into());
        }
        let (ok, complete) = job(Some((db, &mut later)));
        completions.push(complete);
        let ended = if ok {
            execute(db, "RELEASE job", NO_VALUES)
        } else {
            db.execute_batch("ROLLBACK TO job; RELEASE job")
        };
        if let Err(e) = ended {
            refuse(jobs, completions);
            return Err(e.into());
        }
    }
    // Newest first: the search index's rowids are negated ids, and FTS5 flushes its
    // pending entries whenever a rowid is lower than the one before it.
    for write in later.0.into_iter().rev() {
        write(db)?;
    }
    Ok(())
}

/// Jobs that will not run: their callers get the batch's error (a busy database
/// included, so they answer 503 rather than 500).
fn refuse(jobs: impl IntoIterator<Item = Job>, completions: &mut Vec<Completion>) {
    for job in jobs {
        completions.push(job(None).1);
    }
}
