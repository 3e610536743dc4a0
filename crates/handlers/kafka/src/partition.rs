//! Which partition of a topic a message goes to: Kapacitor's partitioners, byte for byte, so that
//! Klaxon and Kapacitor (and the clients they align with) put an alert's messages in the same
//! partition.

use std::fmt;

/// How a message's key (the alert ID) chooses its partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Partitioner {
    /// `crc32` (the default): CRC-32 (IEEE) of the key modulo the partition count, as librdkafka
    /// and confluent-kafka-go; an empty key goes to a random partition.
    Crc32,
    /// `murmur2`: Kafka's Java client's murmur2 (seed 0x9747b28c), positive, modulo the count.
    Murmur2,
    /// `murmur3`: sarama's hash partitioner over murmur3 (32 bits, seed 0).
    Murmur3,
    /// `fnv-1a`: sarama's hash partitioner over FNV-1a (32 bits), which is also what Kapacitor
    /// uses with `disablePartitionById` and for its service test.
    Fnv1a,
}

impl Partitioner {
    /// The partitioner named `name` (`partitionAlgorithm`): `""` and `crc32`, `murmur2`,
    /// `murmur3` or `fnv-1a`.
    pub fn named(name: &str) -> Result<Partitioner, String> {
        match name {
            "" | "crc32" => Ok(Partitioner::Crc32),
            "murmur2" => Ok(Partitioner::Murmur2),
            "murmur3" => Ok(Partitioner::Murmur3),
            "fnv-1a" => Ok(Partitioner::Fnv1a),
            other => Err(format!(
                "invalid partition algorithm: {other:?}; use crc32, murmur2, murmur3 or fnv-1a"
            )),
        }
    }

    /// The index, from 0 to `count - 1`, of the partition for `key` among `count` partitions
    /// sorted by ID. `count` is at least 1.
    pub fn index(self, key: &[u8], count: usize) -> usize {
        let n = u32::try_from(count.max(1)).unwrap_or(u32::MAX);
        let index = match self {
            Partitioner::Crc32 if key.is_empty() => fastrand::u32(0..n),
            Partitioner::Crc32 => crc32fast::hash(key) % n,
            Partitioner::Murmur2 => (murmur2(key) & 0x7fff_ffff) % n,
            Partitioner::Murmur3 => sarama_hash(murmur3(key), n),
            Partitioner::Fnv1a => sarama_hash(fnv1a(key), n),
        };
        index as usize
    }
}

impl fmt::Display for Partitioner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Partitioner::Crc32 => "crc32",
            Partitioner::Murmur2 => "murmur2",
            Partitioner::Murmur3 => "murmur3",
            Partitioner::Fnv1a => "fnv-1a",
        })
    }
}

/// sarama's hash partitioner: the hash as a signed 32-bit number, modulo the count, made
/// positive.
fn sarama_hash(hash: u32, n: u32) -> u32 {
    // The count is at most a few thousand partitions, far below i32::MAX.
    let n = i64::from(n);
    let signed = i64::from(hash as i32);
    (signed % n).unsigned_abs() as u32
}

/// Kafka's murmur2 (its Java client's `Utils.murmur2`), as Kapacitor copies it from kafka-go.
fn murmur2(data: &[u8]) -> u32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let mut h = SEED ^ data.len() as u32;
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let rest = chunks.remainder();
    if rest.len() >= 3 {
        h ^= u32::from(rest[2]) << 16;
    }
    if rest.len() >= 2 {
        h ^= u32::from(rest[1]) << 8;
    }
    if !rest.is_empty() {
        h ^= u32::from(rest[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h
}

/// murmur3's 32-bit hash (x86_32) with seed 0, as spaolacci/murmur3's `New32`.
fn murmur3(data: &[u8]) -> u32 {
    const C1: u32 = 0xcc9e_2d51;
    const C2: u32 = 0x1b87_3593;
    let mut h: u32 = 0;
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
        h ^= k;
        h = h.rotate_left(13).wrapping_mul(5).wrapping_add(0xe654_6b64);
    }
    let rest = chunks.remainder();
    let mut k: u32 = 0;
    if rest.len() >= 3 {
        k ^= u32::from(rest[2]) << 16;
    }
    if rest.len() >= 2 {
        k ^= u32::from(rest[1]) << 8;
    }
    if !rest.is_empty() {
        k ^= u32::from(rest[0]);
        k = k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
        h ^= k;
    }
    h ^= data.len() as u32;
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^= h >> 16;
    h
}

/// FNV-1a, 32 bits (Go's `hash/fnv.New32a`).
fn fnv1a(data: &[u8]) -> u32 {
    data.iter().fold(0x811c_9dc5_u32, |h, byte| {
        (h ^ u32::from(*byte)).wrapping_mul(0x0100_0193)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Kapacitor's `Test_HashPartitioners`.
    #[test]
    fn kapacitors_partitions() {
        let cases = [
            (Partitioner::Crc32, "hello", 1000, 870),
            (Partitioner::Crc32, "hello2", 1000, 502),
            (Partitioner::Crc32, "hello3", 1000, 592),
            (Partitioner::Crc32, "hello4", 1000, 787),
            (Partitioner::Crc32, "hello5", 1000, 413),
            (Partitioner::Crc32, "hello5", 1, 0),
            (Partitioner::Murmur2, "hello", 1000, 229),
            (Partitioner::Murmur2, "hello2", 1000, 907),
            (Partitioner::Murmur2, "hello3", 1000, 759),
            (Partitioner::Murmur2, "hello4", 1000, 299),
            (Partitioner::Murmur2, "hello5", 1000, 841),
            (Partitioner::Murmur2, "", 1000, 681),
            (Partitioner::Murmur2, "hello5", 1, 0),
            // The partitions of Kapacitor's server and stream tests (3 partitions).
            (Partitioner::Crc32, "id", 3, 2),
            (Partitioner::Crc32, "kapacitor/cpu/serverA", 3, 1),
        ];
        for (partitioner, key, count, want) in cases {
            assert_eq!(
                partitioner.index(key.as_bytes(), count),
                want,
                "{partitioner} {key:?} of {count}"
            );
        }
    }

    /// Kapacitor's `Test_murmur2Hash`, as int32.
    #[test]
    fn kapacitors_murmur2_hashes() {
        let cases = [
            ("21", -973_932_308),
            ("foobar", -790_332_482),
            ("a-little-bit-long-string", -985_981_536),
            ("a-little-bit-longer-string", -1_486_304_829),
            (
                "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                -58_897_971,
            ),
            ("abc", 479_470_107),
        ];
        for (key, want) in cases {
            assert_eq!(murmur2(key.as_bytes()) as i32, want, "{key:?}");
        }
    }

    /// The reference values of murmur3 (x86_32, seed 0) and FNV-1a (32).
    #[test]
    fn murmur3_and_fnv1a_match_their_references() {
        assert_eq!(murmur3(b""), 0);
        assert_eq!(murmur3(b"hello"), 0x248b_fa47);
        assert_eq!(
            murmur3(b"The quick brown fox jumps over the lazy dog"),
            0x2e4f_f723
        );
        assert_eq!(fnv1a(b""), 0x811c_9dc5);
        assert_eq!(fnv1a(b"a"), 0xe40c_292c);
        assert_eq!(fnv1a(b"foobar"), 0xbf9c_f968);
    }

    #[test]
    fn sarama_makes_negative_hashes_positive() {
        // FNV-1a of "foobar" is 0xbf9cf968, -1080231576 as an int32; Go's remainder by 7 is -4.
        assert_eq!(sarama_hash(0xbf9c_f968, 7), 4);
        assert_eq!(Partitioner::Fnv1a.index(b"foobar", 7), 4);
    }

    #[test]
    fn an_empty_key_spreads_over_the_partitions_with_crc32() {
        let mut seen = [false; 4];
        for _ in 0..200 {
            seen[Partitioner::Crc32.index(b"", 4)] = true;
        }
        assert_eq!(seen, [true; 4]);
    }
}
