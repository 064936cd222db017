//! CRC64 as Redis computes it (Jones polynomial, reflected): the trailer
//! of an RDB file and of a DUMP payload.

use std::io::{self, Read};

use crc::{Crc, Digest, CRC_64_REDIS};

pub(crate) static CRC64: Crc<u64> = Crc::<u64>::new(&CRC_64_REDIS);

/// The CRC64 of `bytes` in one go.
pub fn crc64(bytes: &[u8]) -> u64 {
    CRC64.checksum(bytes)
}

/// A reader that checksums and counts what passes through it, so the
/// loader never buffers a file to check it and can report progress.
pub(crate) struct CrcReader<R> {
    inner: R,
    digest: Digest<'static, u64>,
    pub(crate) pos: u64,
}

impl<R: Read> CrcReader<R> {
    pub(crate) fn new(inner: R) -> Self {
        CrcReader {
            inner,
            digest: CRC64.digest(),
            pos: 0,
        }
    }

    /// The checksum of everything read so far.
    pub(crate) fn crc(&self) -> u64 {
        self.digest.clone().finalize()
    }

    /// Reads the 8-byte trailer without adding it to the checksum.
    pub(crate) fn read_trailer(&mut self) -> io::Result<[u8; 8]> {
        let mut b = [0u8; 8];
        self.inner.read_exact(&mut b)?;
        self.pos += 8;
        Ok(b)
    }
}

impl<R: Read> Read for CrcReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.digest.update(&buf[..n]);
        self.pos += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn redis_check_value() {
        // crc64.c's self-test: crc64(0, "123456789") == 0xe9c6d914c4b8d9ca.
        assert_eq!(super::crc64(b"123456789"), 0xe9c6_d914_c4b8_d9ca);
    }
}
