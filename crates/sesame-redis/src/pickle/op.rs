//! Opcode bytes (CPython's `Lib/pickletools.py` names them) and their names for errors.

pub const MARK: u8 = b'(';
pub const STOP: u8 = b'.';
pub const BININT: u8 = b'J';
pub const BININT1: u8 = b'K';
pub const BININT2: u8 = b'M';
pub const NONE: u8 = b'N';
pub const BINUNICODE: u8 = b'X';
pub const APPEND: u8 = b'a';
pub const APPENDS: u8 = b'e';
pub const EMPTY_DICT: u8 = b'}';
pub const EMPTY_LIST: u8 = b']';
pub const EMPTY_TUPLE: u8 = b')';
pub const BINGET: u8 = b'h';
pub const LONG_BINGET: u8 = b'j';
pub const BINPUT: u8 = b'q';
pub const LONG_BINPUT: u8 = b'r';
pub const SETITEM: u8 = b's';
pub const SETITEMS: u8 = b'u';
pub const TUPLE: u8 = b't';
pub const BINFLOAT: u8 = b'G';
pub const PROTO: u8 = 0x80;
pub const TUPLE1: u8 = 0x85;
pub const TUPLE2: u8 = 0x86;
pub const TUPLE3: u8 = 0x87;
pub const NEWTRUE: u8 = 0x88;
pub const NEWFALSE: u8 = 0x89;
pub const LONG1: u8 = 0x8a;
pub const LONG4: u8 = 0x8b;
pub const SHORT_BINUNICODE: u8 = 0x8c;
pub const BINUNICODE8: u8 = 0x8d;
pub const MEMOIZE: u8 = 0x94;
pub const FRAME: u8 = 0x95;

/// Opcodes that look up or call Python code, or hand data to the application: never run.
pub fn forbidden(op: u8) -> Option<&'static str> {
    Some(match op {
        b'c' => "GLOBAL",
        0x93 => "STACK_GLOBAL",
        b'R' => "REDUCE",
        b'b' => "BUILD",
        b'i' => "INST",
        b'o' => "OBJ",
        0x81 => "NEWOBJ",
        0x92 => "NEWOBJ_EX",
        b'P' => "PERSID",
        b'Q' => "BINPERSID",
        0x82 => "EXT1",
        0x83 => "EXT2",
        0x84 => "EXT4",
        0x97 => "NEXT_BUFFER",
        0x98 => "READONLY_BUFFER",
        _ => return None,
    })
}

/// Opcodes of valid pickles that build values a session cannot hold (bytes, sets, Python 2
/// strings) or that CPython's pickler never writes at protocol 2 and above for plain data
/// (the text forms of protocol 0, stack juggling).
pub fn unsupported(op: u8) -> Option<&'static str> {
    Some(match op {
        b'B' => "BINBYTES",
        b'C' => "SHORT_BINBYTES",
        0x8e => "BINBYTES8",
        0x96 => "BYTEARRAY8",
        b'T' => "BINSTRING",
        b'U' => "SHORT_BINSTRING",
        b'S' => "STRING",
        b'V' => "UNICODE",
        0x8f => "EMPTY_SET",
        0x90 => "ADDITEMS",
        0x91 => "FROZENSET",
        b'F' => "FLOAT",
        b'I' => "INT",
        b'L' => "LONG",
        b'd' => "DICT",
        b'l' => "LIST",
        b'g' => "GET",
        b'p' => "PUT",
        b'0' => "POP",
        b'1' => "POP_MARK",
        b'2' => "DUP",
        _ => return None,
    })
}
