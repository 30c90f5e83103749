//! The axum/tower web layer. Not built yet: see issue 4.
