//! The subset of Python's pickle format that a Django session dict uses: str, int (with the
//! `big-ints` feature big ints too, up to Python's 4300-digit printing limit), float, bool,
//! None, list, tuple and dict with str keys.
//!
//! Django's Redis cache stores the session dict as `pickle.dumps(d, pickle.HIGHEST_PROTOCOL)`.
//! [`loads`] reads protocols 2 to 5; [`dumps`] writes protocol 5 as CPython's pickler writes
//! it (framed, memoized, batched), which Python 3.8 and later read.
//!
//! A pickle is a program for a stack machine, and unpickling a hostile one in Python executes
//! arbitrary code (`GLOBAL` + `REDUCE`). This decoder executes nothing: it knows only the
//! opcodes that build plain data and refuses every other one ([`DecodeError::Forbidden`] for
//! the opcodes that reach code, [`DecodeError::Unsupported`] for other Python types such as
//! bytes and sets, [`DecodeError::UnknownOpcode`] for the rest). Every length is checked
//! against the bytes that are actually there before anything is allocated, nesting is capped,
//! and the memory the decoded value may take is capped too, including values that a pickle
//! references many times through its memo ([`Limits`]).
//!
//! Why not the `serde-pickle` crate: it accepts `GLOBAL`/`REDUCE` for a few built-ins and
//! turns `NEWOBJ`/`BUILD` objects into empty dicts instead of failing, has no switch to refuse
//! them, and resolves memo references by copying without a budget, so a few hundred bytes of
//! nested back-references expand to gigabytes. The subset needed here is small enough to
//! write and check in full.
//!
//! Mapping to JSON: a tuple becomes an array, as Django's JSON serializer does; an int beyond
//! 64 bits becomes a JSON number with all its digits with the `big-ints` feature (serde_json's
//! `arbitrary_precision`), up to [`MAX_BIG_INT_DIGITS`], and fails the decode without it
//! (turning one into a float would silently change it); a float must be finite, and dict keys
//! must be str. Anything else fails
//! the whole decode: the session loads as empty, never as a partial dict.
//!
//! ```
//! use sesame_redis::pickle::{dumps, loads, Limits};
//! let data = serde_json::json!({"_auth_user_id": "42", "n": 7}).as_object().unwrap().clone();
//! let bytes = dumps(&data).unwrap();
//! assert_eq!(loads(&bytes, &Limits::default()).unwrap(), data);
//! ```

mod decode;
mod encode;
mod op;
#[cfg(test)]
mod tests;

pub use decode::{DecodeError, MAX_BIG_INT_DIGITS, loads, loads_value};
pub use encode::{EncodeError, dumps, dumps_value};

/// The protocol [`dumps`] writes: `pickle.HIGHEST_PROTOCOL` on Python 3.8 and later, which is
/// what Django's `RedisSerializer` uses.
pub const PROTOCOL: u8 = 5;

/// The deepest nesting of lists, tuples and dicts read or written (the outer dict is level 1).
/// The same as serde_json's own recursion limit, so that any session the JSON codec of the
/// `db` engine can read, this store can read too.
pub const MAX_DEPTH: usize = 128;

/// Bounds on what [`loads`] accepts, so that no input costs more than this to reject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The longest pickle read, in bytes.
    pub max_input_bytes: usize,
    /// The deepest nesting of containers (at most [`MAX_DEPTH`]).
    pub max_depth: usize,
    /// An approximate bound on the memory the decoder and the decoded value take, in bytes.
    pub max_memory_bytes: usize,
}

impl Default for Limits {
    /// 16 MiB of pickle, [`MAX_DEPTH`] levels, 128 MiB of memory: far above any real session
    /// (a logged-in Django session is about 150 bytes), far below what hurts a server.
    fn default() -> Self {
        Self {
            max_input_bytes: 16 << 20,
            max_depth: MAX_DEPTH,
            max_memory_bytes: 128 << 20,
        }
    }
}
