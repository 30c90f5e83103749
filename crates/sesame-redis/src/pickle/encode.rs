//! Writing a pickle the way CPython's `pickle.dumps(obj, 5)` does, opcode for opcode, for the
//! JSON values a session holds. Matching CPython byte for byte is not needed for Django to
//! read it, but it makes the output easy to check against Python's.

use super::decode::MAX_BIG_INT_DIGITS;
use super::{MAX_DEPTH, PROTOCOL, op};
use serde_json::{Map, Number, Value};

/// Why a value could not be pickled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// Containers nested deeper than [`MAX_DEPTH`] levels, which no reader here would accept.
    #[error("containers are nested deeper than {0} levels")]
    TooDeep(usize),
    /// An integer of more digits than the reader accepts (Python's `int` to `str` limit).
    #[error("an integer has more than {0} digits")]
    IntegerTooLarge(usize),
    /// A number that is no finite float (JSON text such as `1e400`).
    #[error("the number {0} is not a finite float")]
    NonFiniteFloat(String),
}

/// CPython's `_FRAME_SIZE_TARGET`: a frame is closed once it holds this much, and a str this
/// long is written outside any frame.
const FRAME_SIZE_TARGET: usize = 64 * 1024;
/// CPython's `_FRAME_SIZE_MIN`: a shorter frame goes without its header.
const FRAME_SIZE_MIN: usize = 4;
const FRAME_HEADER: usize = 9;
/// CPython's `_BATCHSIZE`: items per `APPENDS` / `SETITEMS`.
const BATCH: usize = 1000;

/// Pickle a session dict with protocol 5, as Django's `RedisSerializer` does.
pub fn dumps(data: &Map<String, Value>) -> Result<Vec<u8>, EncodeError> {
    let mut w = Writer::new();
    w.dict(data, 1)?;
    Ok(w.finish())
}

/// Pickle any JSON value with protocol 5.
pub fn dumps_value(value: &Value) -> Result<Vec<u8>, EncodeError> {
    let mut w = Writer::new();
    w.save(value, 0)?;
    Ok(w.finish())
}

struct Writer {
    out: Vec<u8>,
    /// Where the open frame's header was reserved, if a frame is open.
    frame_start: Option<usize>,
}

impl Writer {
    fn new() -> Self {
        Self {
            out: vec![op::PROTO, PROTOCOL],
            frame_start: None,
        }
    }

    fn finish(mut self) -> Vec<u8> {
        self.write(&[op::STOP]);
        self.commit_frame(true);
        self.out
    }

    /// Write into the open frame, opening one if needed.
    fn write(&mut self, bytes: &[u8]) {
        if self.frame_start.is_none() {
            self.frame_start = Some(self.out.len());
            self.out.extend_from_slice(&[0; FRAME_HEADER]);
        }
        self.out.extend_from_slice(bytes);
    }

    /// Close the open frame when it is full (or always, with `force`), filling in its header.
    fn commit_frame(&mut self, force: bool) {
        let Some(start) = self.frame_start else {
            return;
        };
        let len = self.out.len() - start - FRAME_HEADER;
        if len < FRAME_SIZE_TARGET && !force {
            return;
        }
        if len >= FRAME_SIZE_MIN {
            self.out[start] = op::FRAME;
            self.out[start + 1..start + FRAME_HEADER].copy_from_slice(&(len as u64).to_le_bytes());
        } else {
            self.out.drain(start..start + FRAME_HEADER);
        }
        self.frame_start = None;
    }

    fn save(&mut self, value: &Value, depth: usize) -> Result<(), EncodeError> {
        self.commit_frame(false);
        match value {
            Value::Null => self.write(&[op::NONE]),
            Value::Bool(true) => self.write(&[op::NEWTRUE]),
            Value::Bool(false) => self.write(&[op::NEWFALSE]),
            Value::Number(n) => self.number(n)?,
            Value::String(s) => self.string(s),
            Value::Array(items) => self.list(items, depth + 1)?,
            Value::Object(map) => self.dict(map, depth + 1)?,
        }
        Ok(())
    }

    fn number(&mut self, n: &Number) -> Result<(), EncodeError> {
        if let Some(i) = n.as_i64() {
            self.int(i.into());
        } else if let Some(u) = n.as_u64() {
            self.int(u.into());
        } else if let Some(big) = sesame_core::pyjson::big_int_digits(n)
            .map(|d| {
                if d.trim_start_matches('-').len() > MAX_BIG_INT_DIGITS {
                    Err(EncodeError::IntegerTooLarge(MAX_BIG_INT_DIGITS))
                } else {
                    Ok(d.parse::<num_bigint::BigInt>().ok())
                }
            })
            .transpose()?
            .flatten()
        {
            // LONG1, or LONG4 past 255 bytes, with the shortest two's complement form, as
            // CPython's save_long.
            let bytes = big.to_signed_bytes_le();
            match u8::try_from(bytes.len()) {
                Ok(n) => self.write(&[op::LONG1, n]),
                Err(_) => {
                    let mut head = [op::LONG4; 5];
                    head[1..].copy_from_slice(&(bytes.len() as u32).to_le_bytes());
                    self.write(&head);
                }
            }
            self.write(&bytes);
        } else {
            // Parsed JSON text beyond f64's range (`1e400`) has no pickle the reader accepts.
            let Some(f) = n.as_f64().filter(|f| f.is_finite()) else {
                return Err(EncodeError::NonFiniteFloat(n.to_string()));
            };
            let mut buf = [op::BINFLOAT; 9];
            buf[1..].copy_from_slice(&f.to_be_bytes());
            self.write(&buf);
        }
        Ok(())
    }

    fn int(&mut self, v: i128) {
        match v {
            0..=0xff => self.write(&[op::BININT1, v as u8]),
            0x100..=0xffff => {
                let mut buf = [op::BININT2; 3];
                buf[1..].copy_from_slice(&(v as u16).to_le_bytes());
                self.write(&buf);
            }
            _ if i32::try_from(v).is_ok() => {
                let mut buf = [op::BININT; 5];
                buf[1..].copy_from_slice(&(v as i32).to_le_bytes());
                self.write(&buf);
            }
            _ => {
                // LONG1 with the shortest two's complement form, as CPython's save_long.
                let bytes = v.to_le_bytes();
                let mut len = bytes.len();
                while len > 1 {
                    let (top, next) = (bytes[len - 1], bytes[len - 2] & 0x80 != 0);
                    if (top == 0 && !next) || (top == 0xff && next) {
                        len -= 1;
                    } else {
                        break;
                    }
                }
                let mut buf = vec![op::LONG1, len as u8];
                buf.extend_from_slice(&bytes[..len]);
                self.write(&buf);
            }
        }
    }

    /// A dict key is saved like any other object, frame check included.
    fn key(&mut self, k: &str) {
        self.commit_frame(false);
        self.string(k);
    }

    fn string(&mut self, s: &str) {
        let n = s.len();
        if n <= 0xff {
            let mut buf = Vec::with_capacity(n + 2);
            buf.extend_from_slice(&[op::SHORT_BINUNICODE, n as u8]);
            buf.extend_from_slice(s.as_bytes());
            self.write(&buf);
        } else {
            let header: Vec<u8> = match u32::try_from(n) {
                Ok(n32) => [&[op::BINUNICODE][..], &n32.to_le_bytes()].concat(),
                Err(_) => [&[op::BINUNICODE8][..], &(n as u64).to_le_bytes()].concat(),
            };
            if n >= FRAME_SIZE_TARGET {
                // CPython writes a large payload outside any frame, so that a reader can
                // hand it over without copying it through a frame buffer.
                self.commit_frame(true);
                self.out.extend_from_slice(&header);
                self.out.extend_from_slice(s.as_bytes());
            } else {
                self.write(&header);
                self.write(s.as_bytes());
            }
        }
        self.write(&[op::MEMOIZE]);
    }

    fn list(&mut self, items: &[Value], depth: usize) -> Result<(), EncodeError> {
        check_depth(depth)?;
        self.write(&[op::EMPTY_LIST, op::MEMOIZE]);
        match items {
            [] => {}
            [one] => {
                self.save(one, depth)?;
                self.write(&[op::APPEND]);
            }
            // CPython's batch_list_exact: every batch, even a last batch of one, is
            // MARK ... APPENDS once the list has two items or more.
            _ => {
                for batch in items.chunks(BATCH) {
                    self.write(&[op::MARK]);
                    for item in batch {
                        self.save(item, depth)?;
                    }
                    self.write(&[op::APPENDS]);
                }
            }
        }
        Ok(())
    }

    fn dict(&mut self, map: &Map<String, Value>, depth: usize) -> Result<(), EncodeError> {
        check_depth(depth)?;
        self.write(&[op::EMPTY_DICT, op::MEMOIZE]);
        if map.len() == 1 {
            for (k, v) in map {
                self.key(k);
                self.save(v, depth)?;
            }
            self.write(&[op::SETITEM]);
            return Ok(());
        }
        if map.is_empty() {
            return Ok(());
        }
        // CPython's batch_dict_exact: batches of BATCH, and after a full batch one more,
        // possibly empty (a dict of exactly 1000 items ends with MARK SETITEMS).
        let mut entries = map.iter();
        loop {
            self.write(&[op::MARK]);
            let mut n = 0;
            for (k, v) in entries.by_ref().take(BATCH) {
                self.key(k);
                self.save(v, depth)?;
                n += 1;
            }
            self.write(&[op::SETITEMS]);
            if n < BATCH {
                return Ok(());
            }
        }
    }
}

fn check_depth(depth: usize) -> Result<(), EncodeError> {
    if depth > MAX_DEPTH {
        return Err(EncodeError::TooDeep(MAX_DEPTH));
    }
    Ok(())
}
