//! What the CLI does to text it did not write (names, descriptions, hostnames, audit details) before it
//! reaches a terminal.

/// `s` without control characters, so a name or hostname cannot move the cursor, recolour the terminal
/// or forge a line of output.
pub fn printable(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { '?' } else { c }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_replaces_control_characters() {
        assert_eq!(printable("web\x1b[31m-01\n"), "web?[31m-01?");
        assert_eq!(printable("bot\r\tok"), "bot??ok");
    }
}
