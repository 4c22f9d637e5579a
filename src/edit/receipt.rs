//! Receipt codes for residents' reports: 16 characters of Crockford base32 (80 random bits)
//! in groups of four, easy to read aloud on the phone and to type again. Only a SHA-256 hash
//! is stored, so the store file does not open anyone's report.

use sha2::{Digest, Sha256};

use super::EditError;

/// Crockford's base32 alphabet: no I, L, O or U to misread.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A new random receipt code, `XXXX-XXXX-XXXX-XXXX`.
pub fn new_code() -> Result<String, EditError> {
    let mut bytes = [0u8; 10];
    getrandom::fill(&mut bytes)
        .map_err(|e| EditError::Internal(format!("no randomness for a receipt code: {e}")))?;
    let mut bits: u128 = 0;
    for b in bytes {
        bits = (bits << 8) | u128::from(b);
    }
    let mut code = String::with_capacity(19);
    for i in 0..16 {
        if i > 0 && i % 4 == 0 {
            code.push('-');
        }
        let digit = ((bits >> (75 - 5 * i)) & 31) as usize;
        code.push(char::from(ALPHABET[digit]));
    }
    Ok(code)
}

/// A code as typed, in its canonical form: upper case, without separators, with the letters
/// people confuse read as the digits they look like. `None` if it cannot be a code.
pub fn canonical(typed: &str) -> Option<String> {
    let mut out = String::with_capacity(16);
    for c in typed.chars() {
        let c = match c.to_ascii_uppercase() {
            '-' | ' ' | '\u{3000}' | 'ー' | '－' => continue,
            'O' => '0',
            'I' | 'L' => '1',
            c if ALPHABET.contains(&(c as u8)) && c.is_ascii() => c,
            _ => return None,
        };
        out.push(c);
    }
    (out.len() == 16).then_some(out)
}

/// The stored hash of a code (given in any typed form).
pub fn hash(code: &str) -> [u8; 32] {
    let canonical = canonical(code).unwrap_or_default();
    Sha256::digest(canonical.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_random_readable_and_typed_forms_hash_alike() {
        let a = new_code().expect("code");
        let b = new_code().expect("code");
        assert_ne!(a, b);
        assert_eq!(a.len(), 19);
        assert_eq!(a.matches('-').count(), 3);
        assert!(canonical(&a).is_some(), "{a}");
        let typed = a.to_lowercase().replace('-', " ");
        assert_eq!(hash(&typed), hash(&a));
        assert_eq!(
            canonical("0000-1111-2222-333O"),
            Some("000011112222333".to_string() + "0")
        );
        assert_eq!(
            canonical("ILO0-0000-0000-0000").as_deref(),
            Some("1100000000000000")
        );
        assert_eq!(canonical("short"), None);
        assert_eq!(canonical("0000-0000-0000-000U"), None);
        assert_ne!(hash(&a), hash(&b));
    }
}
