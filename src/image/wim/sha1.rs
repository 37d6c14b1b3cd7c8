//! SHA-1, which names every blob in a WIM: used to check that what we
//! decompressed is what was stored, not for security. RustCrypto's `sha1`
//! does the hashing (with SHA-NI where the processor has it).

use ::sha1::Digest;

/// A SHA-1 digest.
pub type Sha1 = [u8; 20];

/// The SHA-1 of `data`.
pub fn sha1(data: &[u8]) -> Sha1 {
    ::sha1::Sha1::digest(data).into()
}

/// Lower-case hex, as `sha1sum` prints it.
pub fn hex(d: &Sha1) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answers() {
        assert_eq!(hex(&sha1(b"")), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        assert_eq!(
            hex(&sha1(b"abc")),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(
            hex(&sha1(
                b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
            )),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1"
        );
        assert_eq!(
            hex(&sha1(&vec![b'a'; 1_000_000])),
            "34aa973cd4c4daa4f61eeb2bdbad27316534016f"
        );
    }
}
