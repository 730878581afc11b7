//! Zig-zag varints, the integer encoding inside v2 records.

/// Appends `value` zig-zag encoded.
pub fn put_varlong(out: &mut Vec<u8>, value: i64) {
    let mut zigzag = ((value << 1) ^ (value >> 63)) as u64;
    while zigzag >= 0x80 {
        out.push((zigzag as u8) | 0x80);
        zigzag >>= 7;
    }
    out.push(zigzag as u8);
}

/// Reads a zig-zag varint from the front of `input`, advancing it.
/// `None` on a truncated or over-long (more than 10 bytes) encoding.
pub fn get_varlong(input: &mut &[u8]) -> Option<i64> {
    let mut raw: u64 = 0;
    for (index, byte) in input.iter().enumerate().take(10) {
        raw |= u64::from(byte & 0x7f) << (7 * index);
        if byte & 0x80 == 0 {
            *input = &input[index + 1..];
            return Some((raw >> 1) as i64 ^ -((raw & 1) as i64));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn varlong_round_trips(value in any::<i64>()) {
            let mut out = Vec::new();
            put_varlong(&mut out, value);
            let mut input = out.as_slice();
            prop_assert_eq!(get_varlong(&mut input), Some(value));
            prop_assert!(input.is_empty());
        }
    }

    #[test]
    fn truncated_varlong_is_none() {
        let mut input: &[u8] = &[0x80, 0x80];
        assert_eq!(get_varlong(&mut input), None);
    }
}
