//! Messages (in progress).
