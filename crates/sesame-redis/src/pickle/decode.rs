//! Reading a pickle: a stack machine over an arena of plain values, then one bounded walk
//! that turns the result into JSON.
//!
//! The machine never copies a value. Containers live in an arena and the stack, the marks and
//! the memo hold arena indices, so a memo reference (`BINGET`) shares the container as Python
//! does, and a list appended to after it was memoized is seen with its items from everywhere.
//! Copies happen only in the final walk, which is where a pickle that references one list from
//! many places would blow up; that walk charges every value it makes to the memory budget and
//! stops at the depth limit, which also ends any cycle (a list that contains itself).

use super::Limits;
use super::op;
use serde_json::{Map, Number, Value};
use std::collections::HashMap;
use std::mem::size_of;

/// Why a pickle was refused. Every case means "not a session Sesame can read": the caller
/// treats the session as empty.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input is longer than [`Limits::max_input_bytes`].
    #[error("the pickle is {size} bytes, over the limit of {limit}")]
    TooLarge {
        /// The input's length.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The input does not start with `PROTO 2..=5`.
    #[error("not a pickle of protocol 2 to 5")]
    NotProtocol2To5,
    /// The input ends inside an opcode or before `STOP`.
    #[error("the pickle is truncated")]
    Truncated,
    /// An opcode that looks up or calls Python code (a class, a function, `REDUCE`).
    #[error("opcode {name} at byte {at} could run code: refused")]
    Forbidden {
        /// The opcode's name.
        name: &'static str,
        /// Its offset.
        at: usize,
    },
    /// A valid opcode for a value a session cannot hold here (bytes, a set, ...).
    #[error("opcode {name} at byte {at} is not supported in a session")]
    Unsupported {
        /// The opcode's name.
        name: &'static str,
        /// Its offset.
        at: usize,
    },
    /// A byte that is no pickle opcode.
    #[error("unknown opcode 0x{op:02x} at byte {at}")]
    UnknownOpcode {
        /// The byte.
        op: u8,
        /// Its offset.
        at: usize,
    },
    /// The opcodes do not form a valid program (stack underflow, no mark, unknown memo key, an
    /// item appended to something that is not a list, ...).
    #[error("malformed pickle at byte {at}: {what}")]
    Malformed {
        /// What is wrong.
        what: &'static str,
        /// The offset of the opcode.
        at: usize,
    },
    /// A string that is not valid UTF-8 (Python pickles lone surrogates this way).
    #[error("a string is not valid UTF-8")]
    InvalidUtf8,
    /// An int of more than [`MAX_BIG_INT_DIGITS`] decimal digits, or, without the `big-ints`
    /// feature, any int outside `i64::MIN..=u64::MAX`.
    #[error("an integer is too large")]
    IntegerTooLarge,
    /// A NaN or an infinity, which JSON cannot hold.
    #[error("a float is not finite")]
    NonFiniteFloat,
    /// A dict key that is not a str.
    #[error("a dict key is not a str")]
    NonStringKey,
    /// Containers nested deeper than [`Limits::max_depth`], or a container inside itself.
    #[error("containers are nested deeper than {0} levels")]
    TooDeep(usize),
    /// Decoding would take more than [`Limits::max_memory_bytes`].
    #[error("decoding would take more than {0} bytes of memory")]
    MemoryLimit(usize),
    /// The pickle holds something else than a dict.
    #[error("the pickle holds {0}, not a dict")]
    NotADict(&'static str),
}

type Result<T> = std::result::Result<T, DecodeError>;

/// Unpickle a session dict (`pickle.loads`, restricted to plain data).
pub fn loads(data: &[u8], limits: &Limits) -> Result<Map<String, Value>> {
    match loads_value(data, limits)? {
        Value::Object(map) => Ok(map),
        other => Err(DecodeError::NotADict(type_name(&other))),
    }
}

/// Unpickle any plain value: None, bool, int, float, str, list, tuple (as an array) or dict.
pub fn loads_value(data: &[u8], limits: &Limits) -> Result<Value> {
    if data.len() > limits.max_input_bytes {
        return Err(DecodeError::TooLarge {
            size: data.len(),
            limit: limits.max_input_bytes,
        });
    }
    let mut machine = Machine {
        input: Reader { data, pos: 0 },
        nodes: Vec::new(),
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
        spent: 0,
        max_memory: limits.max_memory_bytes,
    };
    let root = machine.run()?;
    let mut walk = Walk {
        nodes: &machine.nodes,
        spent: machine.spent,
        max_memory: limits.max_memory_bytes,
        max_depth: limits.max_depth.min(super::MAX_DEPTH),
    };
    walk.value(root, 0)
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "None",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a str",
        Value::Array(_) => "a list",
        Value::Object(_) => "a dict",
    }
}

/// A value under construction. Strings borrow from the input.
#[derive(Debug)]
enum Node<'a> {
    None,
    Bool(bool),
    Int(i64),
    UInt(u64),
    /// An int beyond 64 bits, in decimal.
    Big(String),
    Float(f64),
    Str(&'a str),
    List(Vec<usize>),
    Tuple(Vec<usize>),
    Dict(Vec<(usize, usize)>),
}

/// What one more arena slot, stack slot or memo entry costs against the memory budget.
const NODE_COST: usize = size_of::<Node<'static>>() + size_of::<usize>();
const SLOT_COST: usize = size_of::<usize>();
/// A memo entry in a hash map: key, value and the table's overhead.
const MEMO_COST: usize = 4 * size_of::<usize>();

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// The next `n` bytes. The length is checked against what is there before anything is
    /// taken, so a forged length prefix costs nothing.
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).ok_or(DecodeError::Truncated)?;
        let bytes = self.data.get(self.pos..end).ok_or(DecodeError::Truncated)?;
        self.pos = end;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn byte(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }

    fn u64_len(&mut self) -> Result<usize> {
        // A length that does not fit in usize cannot fit in the input either.
        usize::try_from(u64::from_le_bytes(self.array()?)).map_err(|_| DecodeError::Truncated)
    }

    fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }
}

struct Machine<'a> {
    input: Reader<'a>,
    nodes: Vec<Node<'a>>,
    stack: Vec<usize>,
    /// Stack heights at each open MARK (Python's metastack).
    marks: Vec<usize>,
    memo: HashMap<u32, usize>,
    spent: usize,
    max_memory: usize,
}

impl<'a> Machine<'a> {
    fn charge(&mut self, bytes: usize) -> Result<()> {
        self.spent = self.spent.saturating_add(bytes);
        if self.spent > self.max_memory {
            return Err(DecodeError::MemoryLimit(self.max_memory));
        }
        Ok(())
    }

    fn push_node(&mut self, node: Node<'a>) -> Result<()> {
        self.charge(NODE_COST + SLOT_COST)?;
        self.stack.push(self.nodes.len());
        self.nodes.push(node);
        Ok(())
    }

    /// A `LONG1`/`LONG4` int, whose decimal digits count against the budget.
    fn push_int(&mut self, node: Node<'a>) -> Result<()> {
        if let Node::Big(digits) = &node {
            self.charge(digits.len())?;
        }
        self.push_node(node)
    }

    fn push_ref(&mut self, id: usize) -> Result<()> {
        self.charge(SLOT_COST)?;
        self.stack.push(id);
        Ok(())
    }

    /// The floor of the current mark: items below it belong to an outer frame.
    fn floor(&self) -> usize {
        self.marks.last().copied().unwrap_or(0)
    }

    fn pop(&mut self, at: usize) -> Result<usize> {
        if self.stack.len() <= self.floor() {
            return Err(DecodeError::Malformed {
                what: "stack underflow",
                at,
            });
        }
        self.stack.pop().ok_or(DecodeError::Malformed {
            what: "stack underflow",
            at,
        })
    }

    fn top(&self, at: usize) -> Result<usize> {
        match self.stack.last() {
            Some(&id) if self.stack.len() > self.floor() => Ok(id),
            _ => Err(DecodeError::Malformed {
                what: "stack underflow",
                at,
            }),
        }
    }

    fn pop_mark(&mut self, at: usize) -> Result<Vec<usize>> {
        let mark = self.marks.pop().ok_or(DecodeError::Malformed {
            what: "no MARK to close",
            at,
        })?;
        Ok(self.stack.split_off(mark))
    }

    fn string(&mut self, len: usize) -> Result<()> {
        let bytes = self.input.take(len)?;
        let s = std::str::from_utf8(bytes).map_err(|_| DecodeError::InvalidUtf8)?;
        self.push_node(Node::Str(s))
    }

    fn memo_put(&mut self, key: u32, at: usize) -> Result<()> {
        let top = self.top(at)?;
        self.charge(MEMO_COST)?;
        self.memo.insert(key, top);
        Ok(())
    }

    fn memo_get(&mut self, key: u32, at: usize) -> Result<()> {
        let id = *self.memo.get(&key).ok_or(DecodeError::Malformed {
            what: "memo key not found",
            at,
        })?;
        self.push_ref(id)
    }

    fn append(&mut self, items: Vec<usize>, at: usize) -> Result<()> {
        self.charge(items.len().saturating_mul(SLOT_COST))?;
        let list = self.top(at)?;
        match &mut self.nodes[list] {
            Node::List(v) => {
                v.extend(items);
                Ok(())
            }
            _ => Err(DecodeError::Malformed {
                what: "APPEND to something that is not a list",
                at,
            }),
        }
    }

    fn set_items(&mut self, items: Vec<usize>, at: usize) -> Result<()> {
        if !items.len().is_multiple_of(2) {
            return Err(DecodeError::Malformed {
                what: "SETITEMS with an odd number of items",
                at,
            });
        }
        self.charge(items.len().saturating_mul(SLOT_COST))?;
        let dict = self.top(at)?;
        if !matches!(self.nodes[dict], Node::Dict(_)) {
            return Err(DecodeError::Malformed {
                what: "SETITEM on something that is not a dict",
                at,
            });
        }
        for pair in items.chunks_exact(2) {
            if !matches!(self.nodes[pair[0]], Node::Str(_)) {
                return Err(DecodeError::NonStringKey);
            }
        }
        if let Node::Dict(v) = &mut self.nodes[dict] {
            v.extend(items.chunks_exact(2).map(|p| (p[0], p[1])));
        }
        Ok(())
    }

    fn tuple_of(&mut self, n: usize, at: usize) -> Result<()> {
        let mut items = vec![0; n];
        for slot in items.iter_mut().rev() {
            *slot = self.pop(at)?;
        }
        self.push_node(Node::Tuple(items))
    }

    /// Run the program; the index of the value `STOP` returns.
    fn run(&mut self) -> Result<usize> {
        match self.input.array::<2>() {
            Ok([op::PROTO, 2..=5]) => {}
            _ => return Err(DecodeError::NotProtocol2To5),
        }
        loop {
            let at = self.input.pos;
            let opcode = self.input.byte()?;
            match opcode {
                op::STOP => {
                    if !self.marks.is_empty() || self.stack.len() != 1 {
                        return Err(DecodeError::Malformed {
                            what: "STOP with open marks or more than one value",
                            at,
                        });
                    }
                    return self.pop(at);
                }
                op::FRAME => {
                    // Frames only group opcodes for buffered reading; check the length is
                    // honest and read on.
                    if self.input.u64_len()? > self.input.remaining() {
                        return Err(DecodeError::Truncated);
                    }
                }
                op::PROTO => {
                    return Err(DecodeError::Malformed {
                        what: "PROTO after the start",
                        at,
                    });
                }
                op::MARK => {
                    self.charge(SLOT_COST)?;
                    self.marks.push(self.stack.len());
                }
                op::NONE => self.push_node(Node::None)?,
                op::NEWTRUE => self.push_node(Node::Bool(true))?,
                op::NEWFALSE => self.push_node(Node::Bool(false))?,
                op::BININT => {
                    let v = i32::from_le_bytes(self.input.array()?);
                    self.push_node(Node::Int(v.into()))?;
                }
                op::BININT1 => {
                    let v = self.input.byte()?;
                    self.push_node(Node::Int(v.into()))?;
                }
                op::BININT2 => {
                    let v = u16::from_le_bytes(self.input.array()?);
                    self.push_node(Node::Int(v.into()))?;
                }
                op::LONG1 => {
                    let n = usize::from(self.input.byte()?);
                    let node = int_from_le(self.input.take(n)?)?;
                    self.push_int(node)?;
                }
                op::LONG4 => {
                    let n = i32::from_le_bytes(self.input.array()?);
                    let n = usize::try_from(n).map_err(|_| DecodeError::Malformed {
                        what: "negative LONG4 length",
                        at,
                    })?;
                    let node = int_from_le(self.input.take(n)?)?;
                    self.push_int(node)?;
                }
                op::BINFLOAT => {
                    let v = f64::from_be_bytes(self.input.array()?);
                    if !v.is_finite() {
                        return Err(DecodeError::NonFiniteFloat);
                    }
                    self.push_node(Node::Float(v))?;
                }
                op::SHORT_BINUNICODE => {
                    let n = usize::from(self.input.byte()?);
                    self.string(n)?;
                }
                op::BINUNICODE => {
                    let n = u32::from_le_bytes(self.input.array()?);
                    self.string(usize::try_from(n).map_err(|_| DecodeError::Truncated)?)?;
                }
                op::BINUNICODE8 => {
                    let n = self.input.u64_len()?;
                    self.string(n)?;
                }
                op::EMPTY_LIST => self.push_node(Node::List(Vec::new()))?,
                op::EMPTY_DICT => self.push_node(Node::Dict(Vec::new()))?,
                op::EMPTY_TUPLE => self.push_node(Node::Tuple(Vec::new()))?,
                op::APPEND => {
                    let item = self.pop(at)?;
                    self.append(vec![item], at)?;
                }
                op::APPENDS => {
                    let items = self.pop_mark(at)?;
                    self.append(items, at)?;
                }
                op::SETITEM => {
                    let value = self.pop(at)?;
                    let key = self.pop(at)?;
                    self.set_items(vec![key, value], at)?;
                }
                op::SETITEMS => {
                    let items = self.pop_mark(at)?;
                    self.set_items(items, at)?;
                }
                op::TUPLE => {
                    let items = self.pop_mark(at)?;
                    self.push_node(Node::Tuple(items))?;
                }
                op::TUPLE1 => self.tuple_of(1, at)?,
                op::TUPLE2 => self.tuple_of(2, at)?,
                op::TUPLE3 => self.tuple_of(3, at)?,
                op::BINPUT => {
                    let key = self.input.byte()?;
                    self.memo_put(key.into(), at)?;
                }
                op::LONG_BINPUT => {
                    let key = u32::from_le_bytes(self.input.array()?);
                    self.memo_put(key, at)?;
                }
                op::MEMOIZE => {
                    // The memo never holds more entries than the budget allows, far below
                    // u32::MAX.
                    let key = u32::try_from(self.memo.len())
                        .map_err(|_| DecodeError::MemoryLimit(self.max_memory))?;
                    self.memo_put(key, at)?;
                }
                op::BINGET => {
                    let key = self.input.byte()?;
                    self.memo_get(key.into(), at)?;
                }
                op::LONG_BINGET => {
                    let key = u32::from_le_bytes(self.input.array()?);
                    self.memo_get(key, at)?;
                }
                other => {
                    return Err(if let Some(name) = op::forbidden(other) {
                        DecodeError::Forbidden { name, at }
                    } else if let Some(name) = op::unsupported(other) {
                        DecodeError::Unsupported { name, at }
                    } else {
                        DecodeError::UnknownOpcode { op: other, at }
                    });
                }
            }
        }
    }
}

/// The most decimal digits of an int read (Python's `int` to `str` limit).
pub const MAX_BIG_INT_DIGITS: usize = 4300;
/// The most bytes of a `LONG1`/`LONG4` int read: enough for [`MAX_BIG_INT_DIGITS`] digits.
const MAX_BIG_INT_BYTES: usize = 1787;

/// A Python int from `LONG1`/`LONG4`'s little-endian two's complement bytes.
fn int_from_le(bytes: &[u8]) -> Result<Node<'static>> {
    let Some(&last) = bytes.last() else {
        return Ok(Node::Int(0));
    };
    let negative = last & 0x80 != 0;
    let pad = if negative { 0xff } else { 0x00 };
    // Drop sign-extension bytes (CPython writes none, another writer may pad).
    let mut len = bytes.len();
    while len > 1 && bytes[len - 1] == pad && (bytes[len - 2] & 0x80 != 0) == negative {
        len -= 1;
    }
    if len > 8 {
        // Python's own bound on printing an int (`sys.int_info.default_max_str_digits`,
        // 4300 digits, about 1786 bytes): Django could not write a larger one as JSON either,
        // and the conversion's cost stays small.
        if len > MAX_BIG_INT_BYTES {
            return Err(DecodeError::IntegerTooLarge);
        }
        let big = num_bigint::BigInt::from_signed_bytes_le(&bytes[..len]);
        if let Ok(u) = u64::try_from(&big) {
            return Ok(Node::UInt(u));
        }
        // Without `arbitrary_precision` a JSON number would round it to a float: refuse.
        if !cfg!(feature = "big-ints") {
            return Err(DecodeError::IntegerTooLarge);
        }
        let digits = big.to_string();
        if digits.trim_start_matches('-').len() > MAX_BIG_INT_DIGITS {
            return Err(DecodeError::IntegerTooLarge);
        }
        return Ok(Node::Big(digits));
    }
    let mut buf = [pad; 8];
    buf[..len].copy_from_slice(&bytes[..len]);
    Ok(Node::Int(i64::from_le_bytes(buf)))
}

/// The final walk from the arena to JSON, charging every value made.
struct Walk<'n, 'a> {
    nodes: &'n [Node<'a>],
    spent: usize,
    max_memory: usize,
    max_depth: usize,
}

const VALUE_COST: usize = size_of::<Value>();
/// A map entry: the key's `String`, the value and the index map's bookkeeping.
const ENTRY_COST: usize = size_of::<String>() + size_of::<Value>() + 2 * size_of::<usize>();

impl Walk<'_, '_> {
    fn charge(&mut self, bytes: usize) -> Result<()> {
        self.spent = self.spent.saturating_add(bytes);
        if self.spent > self.max_memory {
            return Err(DecodeError::MemoryLimit(self.max_memory));
        }
        Ok(())
    }

    fn value(&mut self, id: usize, depth: usize) -> Result<Value> {
        Ok(match &self.nodes[id] {
            Node::None => Value::Null,
            Node::Bool(b) => Value::Bool(*b),
            Node::Int(i) => Value::Number((*i).into()),
            Node::UInt(u) => Value::Number((*u).into()),
            Node::Big(digits) => {
                self.charge(digits.len())?;
                Value::Number(
                    digits
                        .parse::<Number>()
                        .map_err(|_| DecodeError::IntegerTooLarge)?,
                )
            }
            Node::Float(f) => {
                Value::Number(Number::from_f64(*f).ok_or(DecodeError::NonFiniteFloat)?)
            }
            Node::Str(s) => {
                self.charge(s.len())?;
                Value::String((*s).to_owned())
            }
            Node::List(items) | Node::Tuple(items) => {
                let depth = self.enter(depth)?;
                self.charge(items.len().saturating_mul(VALUE_COST))?;
                let mut out = Vec::with_capacity(items.len());
                for &item in items {
                    out.push(self.value(item, depth)?);
                }
                Value::Array(out)
            }
            Node::Dict(pairs) => {
                let depth = self.enter(depth)?;
                self.charge(pairs.len().saturating_mul(ENTRY_COST))?;
                let mut out = Map::new();
                for &(k, v) in pairs {
                    let Node::Str(key) = self.nodes[k] else {
                        return Err(DecodeError::NonStringKey);
                    };
                    self.charge(key.len())?;
                    let value = self.value(v, depth)?;
                    // As in Python, a repeated key keeps its first position and its last value.
                    out.insert(key.to_owned(), value);
                }
                Value::Object(out)
            }
        })
    }

    fn enter(&self, depth: usize) -> Result<usize> {
        let depth = depth + 1;
        if depth > self.max_depth {
            return Err(DecodeError::TooDeep(self.max_depth));
        }
        Ok(depth)
    }
}
