//! Identifier formats: client IDs and customer IDs (CIDs) are 32 lowercase hex characters.

/// Length of a client ID, a CID and a device ID on the wire.
pub const HEX32_LEN: usize = 32;

/// True when `s` is exactly 32 lowercase hex characters.
pub fn is_hex32(s: &str) -> bool {
    s.len() == HEX32_LEN && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// An identifier fit to echo in a message or use as a key: itself when it has the shape of an ID, else
/// `<invalid>` (a secret is sometimes pasted into an ID field, and arbitrary text must not create keys).
pub fn shown_id(s: &str) -> &str {
    if is_hex32(s) {
        s
    } else {
        "<invalid>"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_id_hides_what_is_not_an_id() {
        assert_eq!(shown_id("s3cretS3cret"), "<invalid>");
        assert_eq!(shown_id("0123456789abcdef0123456789abcdef"), "0123456789abcdef0123456789abcdef");
    }

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
