//! db backend (in progress).
