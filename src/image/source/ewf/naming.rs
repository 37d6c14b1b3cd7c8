//! How the segments of a set are named: `.E01` to `.E99`, then `.EAA`,
//! `.EAB` ... `.EZZ`, `.FAA` ... `.ZZZ` (the case of the first segment's
//! extension is kept; SMART sets start at `.s01`).

/// The number of names the scheme has from `.E01`: 99, then 22 x 26 x 26.
pub const MAX_SEGMENTS: u32 = 99 + 22 * 26 * 26;

/// The file part of a place's name: after the last `/`, `\` or `!` (a member
/// of an archive is named `x.ova!disk.E01`).
pub fn file_part(name: &str) -> &str {
    name.rsplit(['/', '\\', '!']).next().unwrap_or(name)
}

/// The file name of segment `n` of the set `file` (the file name of one of
/// its segments) belongs to; `None` when `file` does not end in a segment
/// extension (`.E01`, `.e05`, `.EAB`) or the scheme has no name for `n`.
pub fn segment_file(file: &str, n: u32) -> Option<String> {
    let stem = file.len().checked_sub(3).and_then(|at| file.get(..at))?;
    let ext = file.get(stem.len()..)?.as_bytes();
    let lower = ext[0].is_ascii_lowercase();
    let digits = ext[1].is_ascii_digit() && ext[2].is_ascii_digit();
    let letters = ext[1].is_ascii_alphabetic() && ext[2].is_ascii_alphabetic();
    if !stem.ends_with('.') || !ext[0].is_ascii_alphabetic() || !(digits || letters) {
        return None;
    }
    // Past .E99 the first letter moves on, so only a digit extension tells
    // the set's letter; a lettered one is taken to be an E set.
    let base = match digits {
        true => ext[0].to_ascii_uppercase(),
        false => b'E',
    };
    let name = match n {
        0 => return None,
        1..=99 => format!("{}{n:02}", char::from(base)),
        _ => {
            let k = n - 100;
            let first = u32::from(base) + k / 676;
            if first > u32::from(b'Z') {
                return None;
            }
            let letter = |v: u32| char::from_u32(v).unwrap_or('?');
            format!(
                "{}{}{}",
                letter(first),
                letter(u32::from(b'A') + k / 26 % 26),
                letter(u32::from(b'A') + k % 26)
            )
        }
    };
    let name = match lower {
        true => name.to_ascii_lowercase(),
        false => name,
    };
    Some(format!("{stem}{name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_names() {
        let n = |f: &str, n| segment_file(f, n);
        assert_eq!(n("disk.E01", 1).as_deref(), Some("disk.E01"));
        assert_eq!(n("disk.E01", 2).as_deref(), Some("disk.E02"));
        assert_eq!(n("disk.E07", 99).as_deref(), Some("disk.E99"));
        assert_eq!(n("disk.E01", 100).as_deref(), Some("disk.EAA"));
        assert_eq!(n("disk.E01", 101).as_deref(), Some("disk.EAB"));
        assert_eq!(n("disk.E01", 126).as_deref(), Some("disk.EBA"));
        assert_eq!(n("disk.E01", 775).as_deref(), Some("disk.EZZ"));
        assert_eq!(n("disk.E01", 776).as_deref(), Some("disk.FAA"));
        assert_eq!(n("disk.EAB", 1).as_deref(), Some("disk.E01"));
        assert_eq!(n("x.e01", 3).as_deref(), Some("x.e03"));
        assert_eq!(n("x.s01", 2).as_deref(), Some("x.s02"));
        assert_eq!(n("disk.E01", MAX_SEGMENTS).as_deref(), Some("disk.ZZZ"));
        assert_eq!(n("disk.E01", MAX_SEGMENTS + 1), None);
        assert_eq!(n("disk.E01", 0), None);
        // A lettered extension is taken for an E set's; the reader asks
        // that the first segment's name be its own segment 1 name.
        assert_ne!(n("disk.raw", 1).as_deref(), Some("disk.raw"));
        assert_eq!(n("disk.E01", 1).as_deref(), Some("disk.E01"));
        assert_eq!(n("E01", 2), None);
        assert_eq!(n("d.é1", 2), None);
        assert_eq!(file_part(r"C:\x\a.ova!disk.E01"), "disk.E01");
        assert_eq!(file_part("https://h/p/disk.E01"), "disk.E01");
    }
}
