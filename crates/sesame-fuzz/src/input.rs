//! Several values out of one fuzz input.
//!
//! Fields are separated by the byte `0xFF`, which never occurs in UTF-8: a string field loses
//! nothing to the separator, and a mutation that inserts or deletes one moves the boundary, as
//! a fuzzer expects. Numbers and flags come from the fields' bytes. Past the end, every field
//! is empty, so any input is a valid (if dull) value of every shape.

/// The field separator.
pub(crate) const SEP: u8 = 0xFF;

/// A cursor over the fields of one input.
#[derive(Debug, Clone)]
pub struct Input<'a> {
    rest: &'a [u8],
}

impl<'a> Input<'a> {
    /// Fields of `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Self { rest: data }
    }

    /// The next field's bytes.
    pub fn bytes(&mut self) -> &'a [u8] {
        match self.rest.iter().position(|&b| b == SEP) {
            Some(i) => {
                let (field, rest) = self.rest.split_at(i);
                self.rest = &rest[1..];
                field
            }
            None => std::mem::take(&mut self.rest),
        }
    }

    /// The next field as text (invalid UTF-8 replaced, as an HTTP layer that reads `&str`
    /// would have refused or replaced it).
    pub fn text(&mut self) -> String {
        String::from_utf8_lossy(self.bytes()).into_owned()
    }

    /// The next field as a little-endian `i64` (short fields zero-extended).
    pub fn i64(&mut self) -> i64 {
        let mut buf = [0u8; 8];
        for (b, v) in buf.iter_mut().zip(self.bytes()) {
            *b = *v;
        }
        i64::from_le_bytes(buf)
    }

    /// The next field's first byte (0 when empty).
    pub fn byte(&mut self) -> u8 {
        self.bytes().first().copied().unwrap_or(0)
    }

    /// Everything left, separators included.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.rest)
    }
}

/// Join fields into one input (for seeds).
pub fn join(fields: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(SEP);
        }
        out.extend_from_slice(f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_split_on_ff_and_run_out_empty() {
        let data = join(&[b"a", b"", b"\x01\x02"]);
        let mut i = Input::new(&data);
        assert_eq!(i.bytes(), b"a");
        assert_eq!(i.text(), "");
        assert_eq!(i.i64(), 0x0201);
        assert_eq!(i.bytes(), b"");
        assert_eq!(i.byte(), 0);
    }
}
