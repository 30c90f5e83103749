//! Auth (in progress).
