//! Passwords: argon2id, hashed and verified on the blocking pool so a login never stalls
//! the async executor.
//!
//! Parameters: argon2id, m = 19 MiB, t = 2, p = 1 (the OWASP minimum for argon2id).
//!
//! Each hash needs 19 MiB of working memory, so [`Hashing`] bounds how many run at once
//! (a semaphore; a caller waits at most a configured time for a turn, then is told the
//! server is busy). Memory for hashing is thus at most `permits × 19 MiB`, and it goes
//! back to the operating system when each hash ends: the working memory is allocated
//! with a capacity over 32 MiB, which glibc's malloc always serves with its own `mmap`
//! and returns with `munmap` when freed (only the 19 MiB argon2 writes are ever
//! resident). A plain 19 MiB allocation would instead stay in the allocator's
//! per-thread arenas after it is freed, so a burst of logins kept its peak for good.

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::domain::Password;

/// Bytes of a hash (argon2's default output length).
const OUTPUT_LEN: usize = 32;

fn params() -> Params {
    // These constants are valid argon2 parameters; `Params::DEFAULT` is the fallback that
    // cannot fail, kept only so this function has no panic path.
    Params::new(19 * 1024, 2, 1, Some(OUTPUT_LEN)).unwrap_or(Params::DEFAULT)
}

fn hasher() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params())
}

/// Why a hash was not computed.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// Every hashing slot stayed taken for the whole wait.
    #[error("every password hashing slot is busy")]
    Busy,
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

/// Argon2 working memory for one running hash.
type Memory = Vec<Block>;

/// Capacity of every [`Memory`], in 1 KiB blocks: just over glibc's largest dynamic mmap
/// threshold (32 MiB on 64-bit), so the allocation is always its own mapping and is
/// unmapped when freed (see the module documentation).
const MAPPED_BLOCKS: usize = 32 * 1024 + 1;

/// Bounded password hashing. See the module documentation.
pub struct Hashing {
    permits: Arc<Semaphore>,
    wait: Duration,
}

/// A turn at hashing; the next caller's turn comes when it is dropped.
pub struct HashSlot {
    _permit: OwnedSemaphorePermit,
}

impl Hashing {
    /// At most `concurrency` hashes at once (at least 1); a caller waits up to `wait`.
    pub fn new(concurrency: usize, wait: Duration) -> Self {
        Hashing {
            permits: Arc::new(Semaphore::new(concurrency.clamp(1, Semaphore::MAX_PERMITS))),
            wait,
        }
    }

    /// Takes a turn, waiting up to the configured time; [`HashError::Busy`] after it.
    pub async fn slot(&self) -> Result<HashSlot, HashError> {
        let permits = self.permits.clone();
        let permit = if self.wait.is_zero() {
            permits.try_acquire_owned().map_err(|_| HashError::Busy)?
        } else {
            tokio::time::timeout(self.wait, permits.acquire_owned())
                .await
                .map_err(|_| HashError::Busy)?
                .map_err(|_| HashError::Busy)?
        };
        Ok(HashSlot { _permit: permit })
    }

    /// Runs `work` in a turn, on the blocking pool, with working memory freed after it.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Memory) -> anyhow::Result<T> + Send + 'static,
    ) -> Result<T, HashError> {
        let slot = self.slot().await?;
        let result = tokio::task::spawn_blocking(move || {
            let mut memory = Memory::new();
            let result = work(&mut memory);
            // Unmapped before the next caller's turn, so at most `permits` are mapped.
            drop(memory);
            drop(slot);
            result
        })
        .await
        .map_err(|e| HashError::Failed(e.into()))?;
        Ok(result?)
    }

    /// Hashes a new password into a PHC string.
    pub async fn hash(&self, password: Password) -> Result<String, HashError> {
        self.run(move |memory| {
            let salt = SaltString::generate(&mut rand::rngs::OsRng);
            hash_with(memory, password.expose().as_bytes(), &salt)
        })
        .await
    }

    /// Checks a password against a stored hash. With no stored hash (unknown email) it
    /// checks against a dummy hash, so both cases take the same time and answer the same.
    pub async fn verify(
        &self,
        password: Password,
        stored: Option<String>,
    ) -> Result<bool, HashError> {
        let known = stored.is_some();
        let matches = self
            .run(move |memory| {
                let stored = match stored {
                    Some(hash) => hash,
                    None => dummy_hash(memory)?.to_owned(),
                };
                verify_with(memory, password.expose().as_bytes(), &stored)
            })
            .await?;
        Ok(known && matches)
    }
}

/// Hashes one password outside the server (the command line, tests): a slot of its own.
pub async fn hash(password: Password) -> anyhow::Result<String> {
    Hashing::new(1, Duration::from_secs(3600))
        .hash(password)
        .await
        .map_err(|e| anyhow::anyhow!(e))
}

/// Grows `memory` to what `params` need (a stored hash may name other parameters than ours).
fn blocks(memory: &mut Memory, params: &Params) -> anyhow::Result<()> {
    let needed = params.block_count();
    anyhow::ensure!(
        needed <= 64 * 1024,
        "stored password hash asks for {needed} KiB of memory"
    );
    if memory.len() != needed {
        *memory = Vec::with_capacity(needed.max(MAPPED_BLOCKS));
        memory.resize(needed, Block::default());
    }
    Ok(())
}

fn hash_with(memory: &mut Memory, password: &[u8], salt: &SaltString) -> anyhow::Result<String> {
    let argon = hasher();
    blocks(memory, argon.params())?;
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt
        .as_salt()
        .decode_b64(&mut salt_bytes)
        .map_err(|e| anyhow::anyhow!("bad salt: {e}"))?;
    let output = Output::init_with(OUTPUT_LEN, |out| {
        argon
            .hash_password_into_with_memory(password, salt_bytes, out, &mut memory[..])
            .map_err(Into::into)
    })
    .map_err(|e| anyhow::anyhow!("cannot hash password: {e}"))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(argon.params())
            .map_err(|e| anyhow::anyhow!("cannot encode argon2 parameters: {e}"))?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(phc.to_string())
}

fn verify_with(memory: &mut Memory, password: &[u8], stored: &str) -> anyhow::Result<bool> {
    fn corrupt(e: impl std::fmt::Display) -> anyhow::Error {
        anyhow::anyhow!("stored password hash is not an argon2 PHC string: {e}")
    }
    let parsed = PasswordHash::new(stored).map_err(corrupt)?;
    let algorithm = Algorithm::try_from(parsed.algorithm).map_err(corrupt)?;
    let version = parsed
        .version
        .map(Version::try_from)
        .transpose()
        .map_err(corrupt)?
        .unwrap_or_default();
    let params = Params::try_from(&parsed).map_err(corrupt)?;
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        anyhow::bail!("stored password hash has no salt or no hash");
    };
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt.decode_b64(&mut salt_bytes).map_err(corrupt)?;
    blocks(memory, &params)?;
    let argon = Argon2::new(algorithm, version, params);
    let computed = Output::init_with(expected.len(), |out| {
        argon
            .hash_password_into_with_memory(password, salt_bytes, out, &mut memory[..])
            .map_err(Into::into)
    })
    .map_err(corrupt)?;
    // `Output`'s equality is constant-time.
    Ok(computed == expected)
}

/// The hash unknown emails are checked against, made once.
fn dummy_hash(memory: &mut Memory) -> anyhow::Result<&'static str> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    if let Some(hash) = DUMMY.get() {
        return Ok(hash);
    }
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    let hash = hash_with(memory, b"confab-dummy-password", &salt)?;
    Ok(DUMMY.get_or_init(|| hash))
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::PasswordVerifier as _;

    #[tokio::test]
    async fn hashes_are_argon2id_and_verify() {
        let hashing = Hashing::new(2, Duration::from_secs(5));
        let password = Password::parse_new("correct horse").expect("valid");
        let stored = hashing.hash(password.clone()).await.expect("hash");
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        // The stock verifier agrees, so hashes stay readable by any argon2 library.
        let parsed = PasswordHash::new(&stored).expect("PHC string");
        assert!(hasher().verify_password(b"correct horse", &parsed).is_ok());
        assert!(hashing
            .verify(password, Some(stored.clone()))
            .await
            .expect("verify"));
        let wrong = Password::parse_existing("wrong horse").expect("valid");
        assert!(!hashing
            .verify(wrong.clone(), Some(stored))
            .await
            .expect("verify"));
        assert!(!hashing.verify(wrong, None).await.expect("verify"));
    }

    #[tokio::test]
    async fn hashes_made_elsewhere_verify() {
        use argon2::password_hash::PasswordHasher as _;
        // Other parameters than ours (older settings, another tool) still verify.
        let other = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8 * 1024, 3, 1, None).expect("params"),
        );
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        let stored = other
            .hash_password(b"battery staple", &salt)
            .expect("hash")
            .to_string();
        let hashing = Hashing::new(1, Duration::from_secs(5));
        let right = Password::parse_existing("battery staple").expect("valid");
        assert!(hashing
            .verify(right, Some(stored.clone()))
            .await
            .expect("verify"));
        let wrong = Password::parse_existing("battery stapler").expect("valid");
        assert!(!hashing.verify(wrong, Some(stored)).await.expect("verify"));
    }

    #[tokio::test]
    async fn a_held_slot_makes_others_busy_until_it_is_dropped() {
        let hashing = Hashing::new(1, Duration::ZERO);
        let held = hashing.slot().await.expect("the one slot");
        let password = Password::parse_existing("anything").expect("valid");
        assert!(matches!(
            hashing.verify(password.clone(), None).await,
            Err(HashError::Busy)
        ));
        drop(held);
        assert!(!hashing
            .verify(password.clone(), None)
            .await
            .expect("verify"));
        assert!(!hashing.verify(password, None).await.expect("verify"));
    }

    #[test]
    fn working_memory_is_over_the_mmap_threshold_and_fits_the_parameters() {
        let mut memory = Memory::new();
        blocks(&mut memory, &params()).expect("blocks");
        assert_eq!(memory.len(), params().block_count());
        assert!(memory.capacity() * std::mem::size_of::<Block>() > 32 * 1024 * 1024);
    }
}
