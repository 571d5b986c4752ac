//! cached_db backend (in progress).
