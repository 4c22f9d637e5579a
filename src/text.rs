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
