//! `Debug` for the layer's shared and per-request state, written by hand: they hold the
//! settings (`SECRET_KEY`), the session (its key is a bearer credential) and the CSRF secret,
//! none of which may reach a log line.

use crate::layer::{RequestState, Sesame};
use std::fmt;

impl fmt::Debug for Sesame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sesame").finish_non_exhaustive()
    }
}

impl fmt::Debug for RequestState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Only what the public accessors already hand out.
        f.debug_struct("RequestState")
            .field("security", self.security())
            .field("client_ip", &self.client_ip())
            .finish_non_exhaustive()
    }
}
