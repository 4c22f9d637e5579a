//! Japanese text normalisation for search: the same folding is applied to the attribute values
//! (once, when a layer is loaded) and to the words a user types, so that the many ways of
//! writing one name meet.

use unicode_normalization::UnicodeNormalization;

/// Folds `text` for matching:
///
/// 1. NFKC: full-width letters and digits become ASCII (`Ａ１` → `A1`), half-width katakana
///    become full-width with their voicing marks composed (`ﾃﾞ` → `デ`), `㈱` → `(株)`;
/// 2. katakana become hiragana (`ミドリ` → `みどり`), so either script finds both;
/// 3. lowercase (`ABC` → `abc`);
/// 4. every whitespace character is removed, the ideographic space U+3000 included, so
///    `みどり 中央` and `みどり中央` are the same.
pub fn fold(text: &str) -> String {
    text.nfkc()
        .map(katakana_to_hiragana)
        .flat_map(char::to_lowercase)
        .filter(|c| !c.is_whitespace())
        .collect()
}

/// The first control character in `text` that stored text must not hold: C0 controls other
/// than tab, line feed and carriage return, DEL and the C1 controls. A NUL cuts the value short
/// in GDAL and SQLite's C API; the others are invisible on screen and in printouts.
pub fn forbidden_control(text: &str) -> Option<(usize, char)> {
    text.chars().enumerate().find(|&(_, c)| {
        (c.is_control() && !matches!(c, '\t' | '\n' | '\r')) || matches!(c, '\u{2028}' | '\u{2029}')
    })
}

/// Checks a text a person gave for storing: at most `max` characters and no control
/// characters (see [`forbidden_control`]). The message names the character's place.
pub fn check_stored(text: &str, max: usize) -> Result<(), String> {
    let n = text.chars().count();
    if n > max {
        return Err(format!("{n} characters is longer than the limit of {max}"));
    }
    match forbidden_control(text) {
        Some((i, c)) => Err(format!(
            "character {} is the control character U+{:04X}; remove it",
            i + 1,
            c as u32
        )),
        None => Ok(()),
    }
}

/// ァ (U+30A1) … ヶ (U+30F6) and the iteration marks ヽヾ map to the hiragana 0x60 below;
/// the prolonged sound mark ー and the middle dot ・ are shared by both scripts and stay.
fn katakana_to_hiragana(c: char) -> char {
    match c {
        '\u{30A1}'..='\u{30F6}' | '\u{30FD}' | '\u{30FE}' => {
            char::from_u32(c as u32 - 0x60).unwrap_or(c)
        }
        c => c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_found_where_they_are() {
        assert_eq!(forbidden_control("道路\t陥没\r\n"), None);
        assert_eq!(forbidden_control("ab\0c"), Some((2, '\0')));
        assert_eq!(forbidden_control("x\u{7f}"), Some((1, '\u{7f}')));
        assert_eq!(forbidden_control("\u{85}"), Some((0, '\u{85}')));
        assert_eq!(forbidden_control("a\u{2028}"), Some((1, '\u{2028}')));
        assert!(check_stored("あいう", 3).is_ok());
        assert!(
            check_stored("あいうえ", 3)
                .unwrap_err()
                .contains("4 characters")
        );
        assert!(
            check_stored("a\u{1b}[31m", 10)
                .unwrap_err()
                .contains("U+001B")
        );
    }

    #[test]
    fn widths_scripts_case_and_spaces_meet() {
        assert_eq!(fold("ﾐﾄﾞﾘﾉ ﾁｭｳｵｳ"), "みどりのちゅうおう");
        assert_eq!(fold("ミドリノ　中央"), "みどりの中央");
        assert_eq!(fold("ＡＢＣ１２３"), "abc123");
        assert_eq!(fold("Abc 123"), "abc123");
        assert_eq!(fold("ヴァイオリン"), "ゔぁいおりん");
        assert_eq!(fold("ｽｰﾊﾟｰ"), "すーぱー");
        assert_eq!(fold("ヶ"), "ゖ");
        assert_eq!(fold(""), "");
    }
}
