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
type Job = Box<
    dyn for<'c> FnOnce(Option<&'c mut SqliteConnection>) -> BoxFuture<'c, (bool, Completion)>
        + Send,
>;

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
                let Some(conn) = conn else {
                    let refused: Completion = Box::new(move |commit| {
                        let _ = answer.send(Err(match commit {
                            Err(failure) => failure.into(),
                            Ok(()) => StoreError::Other(anyhow::anyhow!("the write did not run")),
                        }));
                    });
                    return (false, refused);
                };
                let result = work(conn).await;
                let ok = result.is_ok();
                let completion: Completion = Box::new(move |commit| {
                    let _ = answer.send(match commit {
                        Ok(()) => result,
                        Err(failure) => Err(failure.into()),
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
        let outcome = outcome.map_err(|e| CommitFailure::from(&e));
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
            refuse(jobs, completions).await;
            return Err(e);
        }
    };
    let mut tx = match conn.begin_with("BEGIN IMMEDIATE").await {
        Ok(tx) => tx,
        Err(e) => {
            refuse(jobs, completions).await;
            return Err(e);
        }
    };
    for job in jobs.by_ref() {
        let mut savepoint = match tx.begin().await {
            Ok(savepoint) => savepoint,
            Err(e) => {
                completions.push(job(None).await.1);
                refuse(jobs, completions).await;
                return Err(e);
            }
        };
        let (ok, complete) = job(Some(&mut savepoint)).await;
        completions.push(complete);
        let ended = if ok {
            savepoint.commit().await
        } else {
            savepoint.rollback().await
        };
        if let Err(e) = ended {
            refuse(jobs, completions).await;
            return Err(e);
        }
    }
    tx.commit().await
}

/// Jobs that will not run: their callers get the batch's error (a busy database
/// included, so they answer 503 rather than 500).
async fn refuse(jobs: impl Iterator<Item = Job>, completions: &mut Vec<Completion>) {
    for job in jobs {
        completions.push(job(None).await.1);
    }
}
