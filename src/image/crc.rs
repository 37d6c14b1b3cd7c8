//! The checksums disk formats use: two reflected CRC-32s, IEEE 802.3 (GPT)
//! and Castagnoli (VHDX headers, region tables and log entries), and
//! Adler-32 (EWF section descriptors, tables and chunks).

/// The byte table of a reflected CRC-32 with the (reversed) polynomial `poly`.
const fn table(poly: u32) -> [u32; 256] {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { (c >> 1) ^ poly } else { c >> 1 };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
}

fn reflected(table: &[u32; 256], data: &[u8]) -> u32 {
    !data
        .iter()
        .fold(!0u32, |c, &b| table[usize::from((c as u8) ^ b)] ^ (c >> 8))
}

/// CRC-32 (IEEE 802.3), as GPT uses.
pub(crate) fn crc32(data: &[u8]) -> u32 {
    const TABLE: [u32; 256] = table(0xEDB8_8320);
    reflected(&TABLE, data)
}

/// CRC-32C (Castagnoli), as VHDX uses.
pub(crate) fn crc32c(data: &[u8]) -> u32 {
    const TABLE: [u32; 256] = table(0x82F6_3B78);
    reflected(&TABLE, data)
}

/// Adler-32 (RFC 1950), as EWF uses.
pub(crate) fn adler32(data: &[u8]) -> u32 {
    const MOD: u32 = 65_521;
    // 5552 bytes is the longest run whose sums cannot overflow a u32 before
    // the modulo (RFC 1950's NMAX).
    let (mut a, mut b) = (1u32, 0u32);
    for run in data.chunks(5552) {
        for &byte in run {
            a += u32::from(byte);
            b += a;
        }
        a %= MOD;
        b %= MOD;
    }
    (b << 16) | a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn crc32c_known_value() {
        // RFC 3720 B.4: 32 bytes of zeros.
        assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA);
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
    }

    #[test]
    fn adler32_known_values() {
        assert_eq!(adler32(b""), 1);
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
        // Long enough to need the modulo between runs.
        let ones = vec![0xFFu8; 100_000];
        let (a, b) = ones.iter().fold((1u64, 0u64), |(a, b), &x| {
            let a = (a + u64::from(x)) % 65_521;
            (a, (b + a) % 65_521)
        });
        assert_eq!(adler32(&ones), ((b << 16) | a) as u32);
    }
}
