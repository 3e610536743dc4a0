//! A group's level history, its ring index and its flapping flag, in as little memory as they
//! need: one word for up to 24 levels (Kapacitor's default history is 21), a boxed ring beyond.
//! An alert node keeps one per group, so with the two trigger times a group's whole state is
//! four words: a million groups, 32 MB.

use klaxon_core::Level;

/// A fixed-length ring of levels, all OK at first, with the index of the newest and whether the
/// group is flapping.
#[derive(Debug, Clone, PartialEq)]
pub enum Levels {
    /// Bits `2i..2i+2`: level `i` as its index in [`Level::ALL`], for `i < len`; then the
    /// index (5 bits from [`IDX_SHIFT`]), the length (5 bits from [`LEN_SHIFT`]) and the
    /// flapping flag (bit [`FLAPPING_BIT`]).
    Packed(u64),
    /// More than [`Levels::PACKED`] levels.
    Wide(Box<Wide>),
}

/// A ring too long to pack.
#[derive(Debug, Clone, PartialEq)]
pub struct Wide {
    levels: Box<[Level]>,
    idx: usize,
    flapping: bool,
}

const IDX_SHIFT: u32 = 48;
const LEN_SHIFT: u32 = 53;
const FLAPPING_BIT: u32 = 58;
const FIELD: u64 = 0b1_1111;

impl Levels {
    /// The most levels kept in one word.
    pub const PACKED: usize = 24;

    /// `len` levels, all OK, the index at 0, not flapping.
    pub fn new(len: usize) -> Levels {
        if len <= Self::PACKED {
            Levels::Packed((len as u64) << LEN_SHIFT)
        } else {
            Levels::Wide(Box::new(Wide {
                levels: vec![Level::Ok; len].into_boxed_slice(),
                idx: 0,
                flapping: false,
            }))
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Levels::Packed(bits) => ((bits >> LEN_SHIFT) & FIELD) as usize,
            Levels::Wide(wide) => wide.levels.len(),
        }
    }

    pub fn get(&self, i: usize) -> Level {
        match self {
            Levels::Packed(bits) => Level::ALL[((bits >> (2 * i)) & 0b11) as usize],
            Levels::Wide(wide) => wide.levels[i],
        }
    }

    pub fn set(&mut self, i: usize, level: Level) {
        match self {
            Levels::Packed(bits) => {
                let index = level as u64;
                *bits = (*bits & !(0b11 << (2 * i))) | (index << (2 * i));
            }
            Levels::Wide(wide) => wide.levels[i] = level,
        }
    }

    /// The index of the newest level.
    pub fn idx(&self) -> usize {
        match self {
            Levels::Packed(bits) => ((bits >> IDX_SHIFT) & FIELD) as usize,
            Levels::Wide(wide) => wide.idx,
        }
    }

    /// Moves the index to the next slot (the oldest) and returns it.
    pub fn advance(&mut self) -> usize {
        let next = (self.idx() + 1) % self.len();
        match self {
            Levels::Packed(bits) => {
                *bits = (*bits & !(FIELD << IDX_SHIFT)) | ((next as u64) << IDX_SHIFT);
            }
            Levels::Wide(wide) => wide.idx = next,
        }
        next
    }

    pub fn flapping(&self) -> bool {
        match self {
            Levels::Packed(bits) => bits >> FLAPPING_BIT & 1 == 1,
            Levels::Wide(wide) => wide.flapping,
        }
    }

    pub fn set_flapping(&mut self, flapping: bool) {
        match self {
            Levels::Packed(bits) => {
                *bits = (*bits & !(1 << FLAPPING_BIT)) | (u64::from(flapping) << FLAPPING_BIT);
            }
            Levels::Wide(wide) => wide.flapping = flapping,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_and_wide_histories_keep_every_level_their_index_and_flag() {
        for len in [2, 21, 24, 25, 32, 100] {
            let mut levels = Levels::new(len);
            assert_eq!(levels.len(), len);
            assert!(matches!(levels, Levels::Packed(_)) == (len <= Levels::PACKED));
            assert!((0..len).all(|i| levels.get(i) == Level::Ok));
            assert_eq!((levels.idx(), levels.flapping()), (0, false));
            for i in 0..len {
                levels.set(i, Level::ALL[(i * 7 + len) % 4]);
            }
            levels.set(1, Level::Critical);
            levels.set(1, Level::Info);
            levels.set_flapping(true);
            for step in 1..=len + 1 {
                assert_eq!(levels.advance(), step % len, "{len} levels");
            }
            assert_eq!(levels.idx(), 1);
            for i in 0..len {
                let expected = if i == 1 {
                    Level::Info
                } else {
                    Level::ALL[(i * 7 + len) % 4]
                };
                assert_eq!(levels.get(i), expected, "{len} levels, slot {i}");
            }
            assert!(levels.flapping());
            levels.set_flapping(false);
            assert!(!levels.flapping());
            assert_eq!((levels.len(), levels.idx()), (len, 1));
        }
    }
}
