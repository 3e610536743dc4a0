//! A group's level history in as little memory as it needs: two bits a level in one word for
//! up to 32 levels (Kapacitor's default history is 21), a boxed slice beyond. An alert node
//! keeps one per group, and a million groups each with a 21-byte vector cost a vector header
//! and an allocation apiece.

use klaxon_core::Level;

/// A fixed-length ring of levels, all OK at first.
#[derive(Debug, Clone, PartialEq)]
pub enum Levels {
    /// Level `i` in bits `2i..2i+2`, as its index in [`Level::ALL`].
    Packed { bits: u64, len: u8 },
    /// More than [`Levels::PACKED`] levels. Behind one thin pointer, so that the enum, and the
    /// state of every group, stays two words.
    Wide(Box<Box<[Level]>>),
}

impl Levels {
    /// The most levels kept in one word.
    pub const PACKED: usize = 32;

    /// `len` levels, all OK.
    pub fn new(len: usize) -> Levels {
        match u8::try_from(len) {
            Ok(len) if usize::from(len) <= Self::PACKED => Levels::Packed { bits: 0, len },
            _ => Levels::Wide(Box::new(vec![Level::Ok; len].into_boxed_slice())),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Levels::Packed { len, .. } => usize::from(*len),
            Levels::Wide(levels) => levels.len(),
        }
    }

    pub fn get(&self, i: usize) -> Level {
        match self {
            Levels::Packed { bits, .. } => Level::ALL[((bits >> (2 * i)) & 0b11) as usize],
            Levels::Wide(levels) => levels[i],
        }
    }

    pub fn set(&mut self, i: usize, level: Level) {
        match self {
            Levels::Packed { bits, .. } => {
                let index = level as u64;
                *bits = (*bits & !(0b11 << (2 * i))) | (index << (2 * i));
            }
            Levels::Wide(levels) => levels[i] = level,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_and_wide_histories_keep_every_level() {
        for len in [2, 21, 32, 33, 100] {
            let mut levels = Levels::new(len);
            assert_eq!(levels.len(), len);
            assert!(matches!(levels, Levels::Packed { .. }) == (len <= Levels::PACKED));
            assert!((0..len).all(|i| levels.get(i) == Level::Ok));
            for i in 0..len {
                levels.set(i, Level::ALL[(i * 7 + len) % 4]);
            }
            levels.set(1, Level::Critical);
            levels.set(1, Level::Info);
            for i in 0..len {
                let expected = if i == 1 {
                    Level::Info
                } else {
                    Level::ALL[(i * 7 + len) % 4]
                };
                assert_eq!(levels.get(i), expected, "{len} levels, slot {i}");
            }
        }
    }
}
