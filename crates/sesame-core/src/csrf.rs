//! CSRF (in progress).
