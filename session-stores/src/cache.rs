//! cache backend (in progress).
