//! Argon2 password and token hashes: making one (`klaxond hash-password`), checking that a
//! configured one is well formed (`[[http.users]]`, `[[http.tokens]]`), and verifying a secret
//! against one (`[http] auth-enabled`).
//!
//! A leaf module: the configuration checks hashes and the HTTP layer verifies them, and neither
//! needs the other for it.

use argon2::Argon2;
use argon2::password_hash::{self, PasswordHash, PasswordHasher, SaltString};

/// Why a hash could not be made.
///
/// password-hash's errors do not implement `std::error::Error` (its `std` feature is off), so
/// they are held as values and shown in the message rather than chained as sources.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// The salt needs random bytes, and the system gave none.
    #[error("cannot read random bytes from /dev/urandom for the salt: {0}")]
    Random(#[source] std::io::Error),
    /// The salt could not be encoded (it never is too long or too short as made here).
    #[error("{0}")]
    Salt(password_hash::Error),
    /// Argon2 refused to hash.
    #[error("cannot hash the password: {0}")]
    Hash(password_hash::Error),
    /// Argon2 refused to hash the unknown users' stand-in password.
    #[error("cannot make the dummy hash: {0}")]
    Dummy(password_hash::Error),
}

/// Why a configured hash cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum BadHash {
    /// Not a PHC string at all.
    #[error("{0}")]
    Format(password_hash::Error),
    /// A PHC string of another algorithm, such as pbkdf2.
    #[error("its algorithm is {0}")]
    Algorithm(String),
    /// A PHC string without the hash value.
    #[error("it has no hash value")]
    NoValue,
}

/// The argon2id PHC string of `password` with a fresh random salt (`klaxond hash-password`).
pub fn hash_password(password: &str) -> Result<String, HashError> {
    let mut salt = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut salt))
        .map_err(HashError::Random)?;
    let salt = SaltString::encode_b64(&salt).map_err(HashError::Salt)?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(HashError::Hash)
}

/// Checks that `hash` is an argon2 PHC string; the error says what is wrong.
pub fn check_hash(hash: &str) -> Result<(), BadHash> {
    let parsed = PasswordHash::new(hash).map_err(BadHash::Format)?;
    if !parsed.algorithm.as_str().starts_with("argon2") {
        return Err(BadHash::Algorithm(parsed.algorithm.to_string()));
    }
    if parsed.hash.is_none() {
        return Err(BadHash::NoValue);
    }
    Ok(())
}

/// Whether `secret` hashes to the PHC string `hash`; the comparison is constant-time.
#[cfg(test)]
pub(crate) fn verify(hash: &str, secret: &str) -> bool {
    use argon2::password_hash::PasswordVerifier;
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(secret.as_bytes(), &parsed)
            .is_ok()
    })
}

/// Argon2's working memory, kept between checks: [`verify_in`] grows it to what a hash needs
/// and never shrinks it, so a server with a few of these allocates them once instead of
/// tens of megabytes per login attempt (which the allocator kept per thread, 4.7 GB after
/// 10 seconds of bad logins on 50 connections).
#[derive(Debug, Default)]
pub struct Memory(Vec<argon2::Block>);

impl Memory {
    /// The bytes held.
    #[cfg(test)]
    pub fn bytes(&self) -> usize {
        self.0.len() * argon2::Block::SIZE
    }
}

/// [`verify`] computing in `memory`: whether `secret` hashes to the PHC string `hash`, compared
/// in constant time. `false` for a hash that is not argon2.
pub(crate) fn verify_in(hash: &str, secret: &str, memory: &mut Memory) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Some(expected), Some(salt)) = (parsed.hash, parsed.salt) else {
        return false;
    };
    let Some(argon2) = hasher(&parsed) else {
        return false;
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let blocks = argon2.params().block_count();
    if memory.0.len() < blocks {
        memory.0.resize(blocks, argon2::Block::default());
    }
    let mut out = [0u8; 64];
    let Some(out) = out.get_mut(..expected.len()) else {
        return false;
    };
    argon2
        .hash_password_into_with_memory(secret.as_bytes(), salt, out, &mut memory.0[..blocks])
        .is_ok()
        // `Output`'s equality is constant-time.
        && password_hash::Output::new(out).is_ok_and(|computed| computed == expected)
}

/// The hasher a PHC string was made with: its algorithm, version and parameters.
fn hasher(parsed: &PasswordHash<'_>) -> Option<Argon2<'static>> {
    let algorithm = argon2::Algorithm::try_from(parsed.algorithm).ok()?;
    let version = match parsed.version {
        Some(v) => argon2::Version::try_from(v).ok()?,
        None => argon2::Version::default(),
    };
    let params = argon2::Params::try_from(parsed).ok()?;
    Some(Argon2::new(algorithm, version, params))
}

/// The work a hash costs to check: its memory (KiB) times its passes times its lanes.
fn cost(hash: &str) -> u64 {
    PasswordHash::new(hash)
        .ok()
        .and_then(|parsed| argon2::Params::try_from(&parsed).ok())
        .map_or(0, |p| u64::from(p.m_cost()) * u64::from(p.t_cost()))
}

/// The costliest of `hashes`, which the dummy hash copies.
pub(crate) fn strongest<'a>(hashes: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    hashes.into_iter().max_by_key(|hash| cost(hash))
}

/// The hash an unknown user's password is checked against: made with the parameters of `like`
/// (its algorithm, memory and passes), the costliest configured hash, so that an unknown user's
/// answer never comes sooner than a known user's; Argon2's defaults without users or when that
/// hash does not parse.
pub(crate) fn dummy_hash(like: Option<&str>) -> Result<String, HashError> {
    const DUMMY: &str = "klaxon dummy password";
    let Some(argon2) = like
        .and_then(|hash| PasswordHash::new(hash).ok())
        .and_then(|parsed| hasher(&parsed))
    else {
        return hash_password(DUMMY);
    };
    let salt = SaltString::encode_b64(b"klaxon-dummy-salt").map_err(HashError::Salt)?;
    argon2
        .hash_password(DUMMY.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(HashError::Dummy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_only_its_own_password() {
        let hash = hash_password("s3cr3t").unwrap();
        check_hash(&hash).unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify(&hash, "s3cr3t"));
        assert!(!verify(&hash, "s3cr3t "));
        assert!(!verify("not a hash", "s3cr3t"));
        assert_ne!(hash, hash_password("s3cr3t").unwrap(), "salts differ");
        assert!(check_hash("$pbkdf2-sha256$i=1000$c2FsdA$aGFzaA").is_err());
    }

    #[test]
    fn verifying_in_kept_memory_agrees_with_the_library_and_reuses_it() {
        let hash = hash_password("s3cr3t").unwrap();
        let mut memory = Memory::default();
        assert!(verify_in(&hash, "s3cr3t", &mut memory));
        let held = memory.bytes();
        assert_eq!(held, 19_456 * 1024, "argon2's default m_cost, in bytes");
        assert!(!verify_in(&hash, "s3cr3t ", &mut memory));
        assert!(!verify_in("not a hash", "s3cr3t", &mut memory));
        assert_eq!(memory.bytes(), held, "the same memory, not more");
        // A hash of other parameters, output length and version verifies too.
        let small =
            "$argon2id$v=19$m=8,t=1,p=1$c2FsdHJlYWRlcg$zRjBhFBCmOzvt5hhOuMtAFxbt2X5lkFW+d3i7WaNFQs";
        assert_eq!(verify(small, "x"), verify_in(small, "x", &mut memory));
    }

    #[test]
    fn the_strongest_hash_is_the_costliest() {
        let weak =
            "$argon2id$v=19$m=8,t=1,p=1$c2FsdHJlYWRlcg$zRjBhFBCmOzvt5hhOuMtAFxbt2X5lkFW+d3i7WaNFQs";
        let strong = hash_password("x").unwrap();
        assert_eq!(strongest([weak, strong.as_str()]), Some(strong.as_str()));
        assert_eq!(strongest([strong.as_str(), weak]), Some(strong.as_str()));
    }
}
