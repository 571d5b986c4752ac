//! signed_cookies backend (in progress).
