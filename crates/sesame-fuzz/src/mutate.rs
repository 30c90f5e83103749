//! A small deterministic mutator: the inputs of the smoke test, and a stand-in where
//! libFuzzer is not available. It knows nothing of coverage; libFuzzer (`fuzz/`) is the real
//! campaign.

/// xorshift64*: deterministic by seed, no dependency.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator; any seed (0 is moved off the fixed point).
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number below `n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

/// Bytes that parsers of this project treat specially.
const INTERESTING: &[&[u8]] = &[
    b"\\",
    b"\"",
    b";",
    b"=",
    b":",
    b"/",
    b"//",
    b"\\\\",
    b"%",
    b"%FF",
    b"\xff",
    b"\x00",
    b"\t",
    b"\n",
    b"\r",
    b"@",
    b"-",
    b".",
    b"$",
    b"\xc3\xa9",
    b"\\777",
    b"\x80\x05",
    b"}",
    b"{",
    b"[",
    b"]",
    b"1e400",
    b"http:",
    b"https://evil.com",
    b" ",
];

/// One mutation of `input`, sometimes spliced with `other`.
pub fn mutate(rng: &mut Rng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(6) {
            0 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] ^= 1 << rng.below(8);
            }
            1 if !out.is_empty() => {
                let end = (at + 1 + rng.below(8)).min(out.len());
                out.drain(at.min(end)..end);
            }
            2 => {
                let piece = INTERESTING[rng.below(INTERESTING.len())];
                out.splice(at..at, piece.iter().copied());
            }
            3 => {
                let start = rng.below(other.len() + 1);
                let end = (start + rng.below(32)).min(other.len());
                out.splice(at..at, other[start..end].iter().copied());
            }
            4 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] = rng.next_u64() as u8;
            }
            _ => out.insert(at, rng.next_u64() as u8),
        }
    }
    out
}
