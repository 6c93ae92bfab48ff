//! Identifier formats: client IDs and customer IDs (CIDs) are 32 lowercase hex characters.

/// Length of a client ID, a CID and a device ID on the wire.
pub const HEX32_LEN: usize = 32;

/// True when `s` is exactly 32 lowercase hex characters.
pub fn is_hex32(s: &str) -> bool {
    s.len() == HEX32_LEN && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex32_accepts_only_lowercase_hex_of_length_32() {
        assert!(is_hex32("0123456789abcdef0123456789abcdef"));
        assert!(!is_hex32("0123456789ABCDEF0123456789abcdef"));
        assert!(!is_hex32("0123456789abcdef0123456789abcde"));
        assert!(!is_hex32("0123456789abcdef0123456789abcdefa"));
        assert!(!is_hex32("g123456789abcdef0123456789abcdef"));
        assert!(!is_hex32(""));
    }
}
