//! Group commit for SQLite: concurrent writes share one transaction, so one fsync
//! acknowledges many of them.
//!
//! A commit costs an fsync (about 3 ms on our CI machine: ~300 commits/s). The writer task
//! takes every job waiting in its queue, runs each inside its own SAVEPOINT (a failing job
//! is rolled back alone), then COMMITs once and only then answers every caller: a 2xx
//! still means the write is on disk. When the server is idle a job runs at once; batches
//! form only while a commit is in flight.

use futures_util::future::BoxFuture;
use sqlx::{Connection as _, Pool, Sqlite, SqliteConnection};
use tokio::sync::{mpsc, oneshot};

use super::{StoreError, StoreResult};

/// Answers a job's caller once the batch's fate is known.
type Completion = Box<dyn FnOnce(Result<(), String>) + Send>;
/// Runs a job on the writer connection: (whether it succeeded, how to answer it).
type Job =
    Box<dyn for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, (bool, Completion)> + Send>;

/// The most jobs one transaction takes.
const MAX_BATCH: usize = 256;

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
    /// result after the commit.
    pub async fn run<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, StoreResult<T>>
            + Send
            + 'static,
    {
        let (answer, answered) = oneshot::channel::<StoreResult<T>>();
        let job: Job = Box::new(move |conn| {
            Box::pin(async move {
                let result = work(conn).await;
                let ok = result.is_ok();
                let completion: Completion = Box::new(move |commit| {
                    let _ = answer.send(match commit {
                        Ok(()) => result,
                        Err(cause) => Err(StoreError::Other(anyhow::anyhow!(cause))),
                    });
                });
                (ok, completion)
            })
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
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let mut completions = Vec::with_capacity(batch.len());
        let outcome = run_batch(&pool, batch, &mut completions).await;
        if let Err(cause) = &outcome {
            tracing::error!(error = %cause, jobs = completions.len(), "group commit failed");
        }
        let outcome = outcome.map_err(|e| e.to_string());
        for complete in completions {
            complete(outcome.clone());
        }
    }
}

/// One transaction for the whole batch; each job in a savepoint.
async fn run_batch(
    pool: &Pool<Sqlite>,
    batch: Vec<Job>,
    completions: &mut Vec<Completion>,
) -> Result<(), sqlx::Error> {
    let mut jobs = batch.into_iter();
    let mut conn = match pool.acquire().await {
        Ok(conn) => conn,
        Err(e) => {
            // Nothing ran: answer every job with the failure (they never touched disk).
            completions.extend(jobs.map(refuse));
            return Err(e);
        }
    };
    let mut tx = match conn.begin_with("BEGIN IMMEDIATE").await {
        Ok(tx) => tx,
        Err(e) => {
            completions.extend(jobs.map(refuse));
            return Err(e);
        }
    };
    for job in jobs.by_ref() {
        let mut savepoint = match tx.begin().await {
            Ok(savepoint) => savepoint,
            Err(e) => {
                completions.push(refuse(job));
                completions.extend(jobs.map(refuse));
                return Err(e);
            }
        };
        let (ok, complete) = job(&mut savepoint).await;
        completions.push(complete);
        let ended = if ok {
            savepoint.commit().await
        } else {
            savepoint.rollback().await
        };
        if let Err(e) = ended {
            completions.extend(jobs.map(refuse));
            return Err(e);
        }
    }
    tx.commit().await
}

/// A job that will not run: its caller just gets the batch's error.
fn refuse(_job: Job) -> Completion {
    // The job owns the caller's answer channel; it is answered through a fresh completion
    // only if it runs, so dropping it closes the channel and the caller sees the failure.
    Box::new(|_| {})
}
