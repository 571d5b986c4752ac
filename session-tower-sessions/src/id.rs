//! tower-sessions' `Id` (an `i128`) as one of our keys, and back.
//!
//! The key is the id read as a `u128`, in base 36 (`[0-9a-z]`), padded with `0` to
//! 25 characters (`36^25 > 2^128`): a valid key for every store (rule H1: 8 to 40
//! characters of `[a-z0-9]`), Django's `session_key` included, so the rows can live
//! in `django_session`. The mapping is one to one, so two ids never share a record.

use session_api::SessionKey;

/// Length of every key [`key_for_id`] returns.
pub const KEY_LEN: usize = 25;

const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";

/// The key a tower-sessions id is stored under: 25 characters of `[0-9a-z]`.
///
/// ```
/// use session_tower_sessions::{id_for_key, key_for_id};
/// let key = key_for_id(-1);
/// assert_eq!(key.as_str(), "f5lxx1zz5pnorynqglhzmsp33");
/// assert_eq!(key_for_id(0).as_str(), "0000000000000000000000000");
/// assert_eq!(id_for_key(&key), Some(-1));
/// ```
pub fn key_for_id(id: i128) -> SessionKey {
    // The id's bits, unsigned: a bijection of i128 onto u128.
    let mut rest = id as u128;
    let mut text = [b'0'; KEY_LEN];
    for digit in text.iter_mut().rev() {
        *digit = DIGITS[(rest % 36) as usize];
        rest /= 36;
    }
    let text = std::str::from_utf8(&text).expect("base-36 digits are ASCII");
    SessionKey::parse(text).expect("25 characters of [0-9a-z] are a valid key")
}

/// The tower-sessions id whose key is `key`, or `None` when `key` is not one that
/// [`key_for_id`] returns (a key Django or [`SessionKey::generate`] made, say).
///
/// For tools that start from a stored row: the cookie tower-sessions sends for the
/// row is the id's own text form (`Id(id).to_string()`, URL-safe base64).
pub fn id_for_key(key: &SessionKey) -> Option<i128> {
    let text = key.as_str();
    if text.len() != KEY_LEN {
        return None;
    }
    // A `SessionKey` holds only `[a-z0-9]` (no sign), so this reads digits only; a
    // value past `u128::MAX` is an overflow error.
    let bits = u128::from_str_radix(text, 36).ok()?;
    Some(bits as i128)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_extremes_are_valid_keys_and_map_back() {
        for id in [0, 1, -1, 35, 36, i128::MIN, i128::MAX] {
            let key = key_for_id(id);
            assert_eq!(key.as_str().len(), KEY_LEN);
            assert_eq!(id_for_key(&key), Some(id), "id {id}");
        }
        assert_eq!(key_for_id(35).as_str(), "000000000000000000000000z");
        assert_eq!(key_for_id(36).as_str(), "0000000000000000000000010");
        // u128::MAX, the largest value 25 digits must hold.
        assert_eq!(key_for_id(-1).as_str(), "f5lxx1zz5pnorynqglhzmsp33");
    }

    #[test]
    fn other_keys_are_no_id() {
        let generated = SessionKey::generate();
        assert_eq!(id_for_key(&generated), None, "32 characters");
        let short = SessionKey::parse("abcdefgh").unwrap();
        assert_eq!(id_for_key(&short), None);
        // 25 digits past u128::MAX.
        let over = SessionKey::parse("zzzzzzzzzzzzzzzzzzzzzzzzz").unwrap();
        assert_eq!(id_for_key(&over), None);
        let just_over = SessionKey::parse("f5lxx1zz5pnorynqglhzmsp34").unwrap();
        assert_eq!(id_for_key(&just_over), None);
    }

    proptest! {
        #[test]
        fn every_id_round_trips(id in any::<i128>()) {
            let key = key_for_id(id);
            prop_assert_eq!(key.as_str().len(), KEY_LEN);
            prop_assert!(key.as_str().bytes().all(|b| b.is_ascii_digit() || b.is_ascii_lowercase()));
            prop_assert_eq!(id_for_key(&key), Some(id));
        }
    }
}
