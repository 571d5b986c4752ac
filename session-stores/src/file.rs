//! file backend (in progress).
