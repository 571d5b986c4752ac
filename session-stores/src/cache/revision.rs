//! The revision a [`CacheFormat::Native`](super::CacheFormat::Native) value carries
//! just before its stamp, so that a versioned save on Redis reads a fixed tail of the
//! value (`GETRANGE`) instead of the whole value and its digest (rule V1).

use session_api::Version;

use super::stamp::STAMP_SUFFIX_LEN;
use super::{version_of, Stamp};

/// What precedes the revision.
const REV_FIELD: &[u8] = b"\"rev\":\"";
/// The length of a revision: 16 lowercase hex digits, a [`Version`] as Redis's
/// scripts compare it.
const REV_LEN: usize = 16;
/// What follows the revision: the field of the stamp comes next.
const REV_END: &[u8] = b"\",";
/// How many bytes at the end of a revised value hold its revision and its stamp:
/// `"rev":"<16 hex>","expires":"<stamp>"}`.
pub const REVISION_SUFFIX_LEN: usize = REV_FIELD.len() + REV_LEN + REV_END.len() + STAMP_SUFFIX_LEN;

/// Where the revision's digits start in a revised value of `len` bytes.
fn rev_at(len: usize) -> usize {
    len - REVISION_SUFFIX_LEN + REV_FIELD.len()
}

/// The revision's digits in `value`, when it ends with a revision and a stamp.
fn digits(value: &[u8]) -> Option<&[u8]> {
    let start = value.len().checked_sub(REVISION_SUFFIX_LEN)?;
    let suffix = &value[start..];
    let (field, rest) = suffix.split_at(REV_FIELD.len());
    let (digits, rest) = rest.split_at(REV_LEN);
    let lower_hex = |b: &u8| b.is_ascii_digit() || (b'a'..=b'f').contains(b);
    let revised = field == REV_FIELD
        && rest.starts_with(REV_END)
        && digits.iter().all(lower_hex)
        && Stamp::of(value).is_some();
    revised.then_some(digits)
}

fn parse(digits: &[u8]) -> Option<Version> {
    let text = std::str::from_utf8(digits).ok()?;
    u64::from_str_radix(text, 16).ok().map(Version::new)
}

/// The version of a stored value (rule V1): its revision, when it ends with
/// `"rev":"<16 lowercase hex digits>","expires":"<stamp>"}` (the last
/// [`REVISION_SUFFIX_LEN`] bytes), else [`version_of`] its bytes (a value written
/// before revisions, one in [`CacheFormat::Django`](super::CacheFormat::Django), or
/// one of cached_db). What a cache of your own compares in
/// [`Cache::replace_if_version`](super::Cache::replace_if_version).
///
/// ```
/// use session_api::Version;
/// use session_stores::cache::{stored_version, version_of};
/// let revised = br#"{"data":{},"rev":"00000000000000ff","expires":"2026-01-15T00:00:00.000000000Z"}"#;
/// assert_eq!(stored_version(revised), Version::new(255));
/// let earlier = br#"{"data":{},"expires":"2026-01-15T00:00:00.000000000Z"}"#;
/// assert_eq!(stored_version(earlier), version_of(earlier));
/// ```
pub fn stored_version(value: &[u8]) -> Version {
    digits(value)
        .and_then(parse)
        .unwrap_or_else(|| version_of(value))
}

/// Inserts a revision before the stamp of a stamped `value`: [`version_of`] the
/// value without it (what its version was before revisions), so that the same data
/// and expiry written again give the same value. A value without a stamp is left.
pub(crate) fn revise(value: &mut Vec<u8>) {
    if Stamp::of(value).is_none() {
        return;
    }
    let rev = format!("{:016x}", version_of(value).get());
    let at = value.len() - STAMP_SUFFIX_LEN;
    let mut inserted = Vec::with_capacity(REV_FIELD.len() + REV_LEN + REV_END.len());
    inserted.extend_from_slice(REV_FIELD);
    inserted.extend_from_slice(rev.as_bytes());
    inserted.extend_from_slice(REV_END);
    value.splice(at..at, inserted);
}

/// The revision a touch to `expires` gives a value revised `old`: the first 16 hex
/// digits of the SHA-1 of the old digits and the new stamp (what Redis's touch
/// script computes), so each touch changes the version (rule V3).
fn touched(old: &[u8], expires: &Stamp) -> String {
    let mut input = Vec::with_capacity(REV_LEN + expires.as_bytes().len());
    input.extend_from_slice(old);
    input.extend_from_slice(expires.as_bytes());
    format!("{:016x}", version_of(&input).get())
}

/// Rewrites in place the stamp of a stamped `value` to `expires`, and its revision
/// when it has one (to one derived from the old revision and the new stamp: each
/// touch changes the version, rule V3); what a cache of your own does in
/// [`Cache::touch`](super::Cache::touch). A value without a stamp is left as it is
/// (its bytes, so its version, stay). Returns whether the value had a stamp.
///
/// ```
/// use session_stores::cache::{restamp, stored_version, Stamp};
/// use time::macros::datetime;
/// let mut value = br#"{"data":{},"rev":"00000000000000ff","expires":"2026-01-15T00:00:00.000000000Z"}"#.to_vec();
/// let later = Stamp::at(datetime!(2026-01-16 0:00 UTC))?;
/// assert!(restamp(&mut value, &later));
/// assert_eq!(Stamp::of(&value), Some(later));
/// assert_ne!(stored_version(&value).get(), 255);
/// assert!(!restamp(&mut b"no stamp".to_vec(), &later));
/// # Ok::<(), session_api::Error>(())
/// ```
pub fn restamp(value: &mut [u8], expires: &Stamp) -> bool {
    if Stamp::of(value).is_none() {
        return false;
    }
    if let Some(old) = digits(value) {
        let rev = touched(old, expires);
        let at = rev_at(value.len());
        value[at..at + REV_LEN].copy_from_slice(rev.as_bytes());
    }
    // The stamp sits between its field name and the closing `"}`.
    let end = value.len() - 2;
    value[end - expires.as_bytes().len()..end].copy_from_slice(expires.as_bytes());
    true
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use time::macros::datetime;

    const EARLIER: &[u8] = br#"{"data":{"a":1},"expires":"2026-01-15T00:00:00.000000000Z"}"#;

    #[test]
    fn a_revision_is_the_digest_of_the_value_without_it() {
        let mut value = EARLIER.to_vec();
        revise(&mut value);
        let rev = format!("{:016x}", version_of(EARLIER).get());
        assert_eq!(
            std::str::from_utf8(&value).unwrap(),
            format!(
                r#"{{"data":{{"a":1}},"rev":"{rev}","expires":"2026-01-15T00:00:00.000000000Z"}}"#
            )
        );
        assert_eq!(stored_version(&value), version_of(EARLIER));
        assert_eq!(Stamp::of(&value), Stamp::of(EARLIER));
        let mut unstamped = b"no stamp".to_vec();
        revise(&mut unstamped);
        assert_eq!(unstamped, b"no stamp");
    }

    #[test]
    fn only_an_exact_revision_counts() {
        let stamp = r#","expires":"2026-01-15T00:00:00.000000000Z"}"#;
        for bad in [
            format!(r#"{{"rev":"00000000000000FF"{stamp}"#),
            format!(r#"{{"rev":"00000000000000f"{stamp}"#),
            format!(r#"{{"rev":"000000000000000fff"{stamp}"#),
            format!(r#"{{"ver":"00000000000000ff"{stamp}"#),
            r#"{"rev":"00000000000000ff","expires":"2026-01-15T00:00:00Z"}"#.to_owned(),
        ] {
            assert_eq!(
                stored_version(bad.as_bytes()),
                version_of(bad.as_bytes()),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_restamp_moves_the_stamp_and_the_revision() {
        let later = Stamp::at(datetime!(2026-01-16 0:00 UTC)).unwrap();
        let mut value = EARLIER.to_vec();
        revise(&mut value);
        let before = stored_version(&value);
        assert!(restamp(&mut value, &later));
        assert_eq!(Stamp::of(&value), Some(later));
        let once = stored_version(&value);
        assert_ne!(once, before);
        // The same stamp again is another touch, and another version (V3).
        assert!(restamp(&mut value, &later));
        assert_ne!(stored_version(&value), once);
        // A value from before revisions gets the stamp only; its digest moves.
        let mut earlier = EARLIER.to_vec();
        assert!(restamp(&mut earlier, &later));
        assert_eq!(Stamp::of(&earlier), Some(later));
        assert_eq!(earlier.len(), EARLIER.len());
    }
}
