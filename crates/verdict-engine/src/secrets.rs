//! New API keys and admin tokens.

/// 32 lowercase hex characters from the OS's CSPRNG (128 bits). The length and alphabet of
/// 2captcha and anti-captcha keys, so clients that check a key's format accept ours.
pub fn generate_secret() -> String {
    let mut bytes = [0u8; 16];
    // The OS RNG failing means the machine cannot do cryptography at all; nothing sensible
    // remains to do but stop.
    getrandom::fill(&mut bytes).expect("the operating system's random number generator failed");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Random bytes from the OS's CSPRNG, for ids that must not be guessed or repeat.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("the operating system's random number generator failed");
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_32_hex_chars_and_differ() {
        let (a, b) = (generate_secret(), generate_secret());
        assert_eq!(a.len(), 32);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(a, b);
    }
}
