//! Kafka's wire format for the few non-flexible request versions this crate speaks: big-endian
//! integers, strings and byte arrays prefixed by their length, arrays by their count.

use crate::KafkaError;

/// Builds one request body.
#[derive(Debug, Default)]
pub(crate) struct Encoder(pub(crate) Vec<u8>);

impl Encoder {
    pub(crate) fn i8(&mut self, v: i8) -> &mut Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }

    pub(crate) fn i16(&mut self, v: i16) -> &mut Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }

    pub(crate) fn i32(&mut self, v: i32) -> &mut Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }

    pub(crate) fn i64(&mut self, v: i64) -> &mut Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// A STRING: i16 length, UTF-8. Names here are group IDs, topics and member IDs, far under
    /// 32 KiB; a longer one is cut at the bound rather than written with a wrong length.
    pub(crate) fn string(&mut self, s: &str) -> &mut Self {
        let bytes = &s.as_bytes()[..s.len().min(i16::MAX as usize)];
        self.i16(bytes.len() as i16);
        self.0.extend_from_slice(bytes);
        self
    }

    /// A NULLABLE_STRING that is null.
    pub(crate) fn null_string(&mut self) -> &mut Self {
        self.i16(-1)
    }

    /// BYTES: i32 length.
    pub(crate) fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.i32(i32::try_from(b.len()).unwrap_or(i32::MAX));
        self.0.extend_from_slice(b);
        self
    }

    /// An ARRAY's count.
    pub(crate) fn count(&mut self, n: usize) -> &mut Self {
        self.i32(i32::try_from(n).unwrap_or(i32::MAX))
    }
}

/// Reads one response body; every read checks the length left.
#[derive(Debug)]
pub(crate) struct Decoder<'a> {
    buf: &'a [u8],
    what: &'static str,
}

impl<'a> Decoder<'a> {
    pub(crate) fn new(buf: &'a [u8], what: &'static str) -> Self {
        Decoder { buf, what }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], KafkaError> {
        if self.buf.len() < n {
            return Err(KafkaError::Malformed {
                what: self.what,
                reason: format!("{n} bytes wanted, {} left", self.buf.len()),
            });
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    pub(crate) fn i16(&mut self) -> Result<i16, KafkaError> {
        let b = self.take(2)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }

    pub(crate) fn i32(&mut self) -> Result<i32, KafkaError> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub(crate) fn i64(&mut self) -> Result<i64, KafkaError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_be_bytes(a))
    }

    /// A STRING or NULLABLE_STRING (null read as empty).
    pub(crate) fn string(&mut self) -> Result<String, KafkaError> {
        let len = self.i16()?;
        if len < 0 {
            return Ok(String::new());
        }
        let b = self.take(len as usize)?;
        String::from_utf8(b.to_vec()).map_err(|_| KafkaError::Malformed {
            what: self.what,
            reason: "a string is not UTF-8".into(),
        })
    }

    /// BYTES or NULLABLE_BYTES (null read as empty).
    pub(crate) fn bytes(&mut self) -> Result<&'a [u8], KafkaError> {
        let len = self.i32()?;
        if len < 0 {
            return Ok(&[]);
        }
        self.take(len as usize)
    }

    /// An ARRAY's count (null read as 0), bounded by the bytes left so that a corrupt count
    /// cannot make a caller reserve gigabytes.
    pub(crate) fn count(&mut self) -> Result<usize, KafkaError> {
        let n = self.i32()?;
        let n = usize::try_from(n).unwrap_or(0);
        if n > self.buf.len() {
            return Err(KafkaError::Malformed {
                what: self.what,
                reason: format!("an array of {n} entries in {} bytes", self.buf.len()),
            });
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_written_reads_back() {
        let mut e = Encoder::default();
        e.i16(-2)
            .i32(7)
            .i64(1 << 40)
            .string("grp")
            .bytes(b"\x01\x02")
            .count(1)
            .null_string();
        let mut d = Decoder::new(&e.0, "test");
        assert_eq!(d.i16().unwrap(), -2);
        assert_eq!(d.i32().unwrap(), 7);
        assert_eq!(d.i64().unwrap(), 1 << 40);
        assert_eq!(d.string().unwrap(), "grp");
        assert_eq!(d.bytes().unwrap(), b"\x01\x02");
        assert_eq!(d.count().unwrap(), 1);
        assert_eq!(d.string().unwrap(), "");
        assert!(d.i16().is_err(), "nothing is left");
    }

    #[test]
    fn a_corrupt_count_is_an_error_not_an_allocation() {
        let mut e = Encoder::default();
        e.i32(i32::MAX);
        let err = Decoder::new(&e.0, "JoinGroup").count().unwrap_err();
        assert_eq!(
            err.to_string(),
            "malformed JoinGroup response: an array of 2147483647 entries in 0 bytes"
        );
    }
}
