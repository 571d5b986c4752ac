//! Content versions (rule V1) for stores whose stored bytes are their record: the
//! file store and the cache. The version of a stored value is the first 8 bytes of
//! its SHA-1, big-endian: Redis computes the same in its Lua scripts
//! (`redis.sha1hex`), so a compare-and-set there sends 16 hex digits, not the value.
//! SHA-1 is used only to detect change, never for security.

use session_api::Version;
use sha1::{Digest, Sha1};

/// The version of the stored bytes `value`: the first 8 bytes of their SHA-1,
/// big-endian. What a cache of your own compares in `Cache::replace_if_version`
/// (Redis computes the same digest in its scripts).
pub fn version_of(value: &[u8]) -> Version {
    let digest = Sha1::digest(value);
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    Version::new(u64::from_be_bytes(first))
}

/// The version as Redis's scripts compare it: the first 16 hex digits of
/// `redis.sha1hex(value)`.
#[cfg(feature = "redis")]
pub(crate) fn version_hex(version: Version) -> String {
    format!("{:016x}", version.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_is_the_sha1_prefix() {
        // SHA-1("abc") = a9993e364706816aba3e25717850c26c9cd0d89d
        assert_eq!(version_of(b"abc"), Version::new(0xa999_3e36_4706_816a));
        assert_ne!(version_of(b"abc"), version_of(b"abd"));
    }
}
