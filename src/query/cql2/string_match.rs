//! String comparison as CQL2 asks for it: Unicode-normalised, with optional case folding
//! (`CASEI`) and accent removal (`ACCENTI`), and LIKE patterns compiled once per filter.
//!
//! Comparisons run over char iterators, so evaluating a feature allocates nothing; LIKE
//! reuses one per-thread buffer.

use std::cell::RefCell;
use std::cmp::Ordering;

use caseless::Caseless;
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::canonical_combining_class;

/// Which of CASEI and ACCENTI apply to a string operand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Fold {
    pub casei: bool,
    pub accenti: bool,
}

/// Whether ACCENTI drops `c`: a combining mark (canonical combining class other than 0),
/// except the Japanese voiced and semi-voiced sound marks, which the standard recommends
/// keeping (ガ is not カ).
fn is_removed_accent(c: char) -> bool {
    canonical_combining_class(c) != 0 && c != '\u{3099}' && c != '\u{309A}'
}

fn keep(c: &char) -> bool {
    !is_removed_accent(*c)
}

/// The characters of `s` as compared, collected: for literals at bind time.
pub fn normalize_owned(s: &str, fold: Fold) -> String {
    Normalized::new(s, fold).collect()
}

type Nfd<'a> = unicode_normalization::Decompositions<std::str::Chars<'a>>;
type Nfc<I> = unicode_normalization::Recompositions<I>;
type CaseFolded<'a> = unicode_normalization::Decompositions<caseless::CaseFold<Nfd<'a>>>;
type NoAccents<I> = std::iter::Filter<I, fn(&char) -> bool>;

/// The characters of a string as compared: full case folding on the decomposed text (and
/// NFD again, as canonical caseless matching requires) for CASEI, combining marks removed
/// for ACCENTI, then composed (NFC). Composed text orders by code point exactly as `sortby`
/// and SQL's binary collation do, and canonically equivalent spellings compare equal. One
/// concrete iterator per fold, so nothing is allocated.
pub enum Normalized<'a> {
    Plain(Nfc<std::str::Chars<'a>>),
    CaseI(Nfc<CaseFolded<'a>>),
    AccentI(Nfc<NoAccents<Nfd<'a>>>),
    Both(Nfc<NoAccents<CaseFolded<'a>>>),
}

impl<'a> Normalized<'a> {
    pub fn new(s: &'a str, fold: Fold) -> Normalized<'a> {
        let keep = keep as fn(&char) -> bool;
        match (fold.casei, fold.accenti) {
            (false, false) => Normalized::Plain(s.nfc()),
            (true, false) => Normalized::CaseI(s.nfd().default_case_fold().nfd().nfc()),
            (false, true) => Normalized::AccentI(s.nfd().filter(keep).nfc()),
            (true, true) => Normalized::Both(s.nfd().default_case_fold().nfd().filter(keep).nfc()),
        }
    }
}

impl Iterator for Normalized<'_> {
    type Item = char;

    fn next(&mut self) -> Option<char> {
        match self {
            Normalized::Plain(i) => i.next(),
            Normalized::CaseI(i) => i.next(),
            Normalized::AccentI(i) => i.next(),
            Normalized::Both(i) => i.next(),
        }
    }
}

/// A string operand's value at evaluation time: either already normalized (a literal,
/// normalized at bind time) or raw with the folds still to apply (an attribute value).
#[derive(Clone, Copy)]
pub enum Side<'a> {
    Ready(&'a str),
    Raw(&'a str, Fold),
}

/// Compares two strings under their folds, code point by code point of the normalized forms.
pub fn compare(a: Side<'_>, b: Side<'_>) -> Ordering {
    // Identical raw text with identical folds compares equal without normalizing.
    match (a, b) {
        (Side::Ready(x), Side::Ready(y)) => return x.cmp(y),
        (Side::Raw(x, fx), Side::Raw(y, fy)) if fx == fy && x == y => return Ordering::Equal,
        (Side::Raw(x, f), Side::Ready(y)) | (Side::Ready(y), Side::Raw(x, f))
            if f == Fold::default() && x.is_ascii() =>
        {
            // Normalization leaves ASCII unchanged.
            let o = x.cmp(y);
            return if matches!(a, Side::Raw(..)) {
                o
            } else {
                o.reverse()
            };
        }
        _ => {}
    }
    match (a, b) {
        (Side::Ready(x), Side::Raw(y, f)) => x.chars().cmp(Normalized::new(y, f)),
        (Side::Raw(x, f), Side::Ready(y)) => Normalized::new(x, f).cmp(y.chars()),
        (Side::Raw(x, fx), Side::Raw(y, fy)) => Normalized::new(x, fx).cmp(Normalized::new(y, fy)),
        (Side::Ready(x), Side::Ready(y)) => x.cmp(y),
    }
}

/// One element of a compiled LIKE pattern.
#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Char(char),
    /// `_`: exactly one character.
    One,
    /// `%`: any run of characters, also none.
    Any,
}

/// A LIKE pattern compiled against its own folds: `%` any run, `_` one character, `\` escapes
/// the next character. Text is matched in composed form (NFC) so `_` matches one kana.
#[derive(Debug, Clone, PartialEq)]
pub struct LikePattern {
    pieces: Vec<Piece>,
}

impl LikePattern {
    /// Compiles `pattern` as written, applying `fold` to its literal characters.
    pub fn compile(pattern: &str, fold: Fold) -> Result<LikePattern, String> {
        let mut pieces = Vec::new();
        let mut run = String::new();
        let flush = |run: &mut String, pieces: &mut Vec<Piece>| {
            if !run.is_empty() {
                pieces.extend(Normalized::new(run, fold).nfc().map(Piece::Char));
                run.clear();
            }
        };
        let mut chars = pattern.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some(escaped) => run.push(escaped),
                    None => {
                        return Err(format!(
                            "LIKE pattern {pattern:?} ends with the escape character \\"
                        ));
                    }
                },
                '%' => {
                    flush(&mut run, &mut pieces);
                    if pieces.last() != Some(&Piece::Any) {
                        pieces.push(Piece::Any);
                    }
                }
                '_' => {
                    flush(&mut run, &mut pieces);
                    pieces.push(Piece::One);
                }
                other => run.push(other),
            }
        }
        flush(&mut run, &mut pieces);
        Ok(LikePattern { pieces })
    }

    /// Whether `text`, with `fold` applied, matches the whole pattern.
    pub fn matches(&self, text: &str, fold: Fold) -> bool {
        thread_local! {
            static BUFFER: RefCell<Vec<char>> = const { RefCell::new(Vec::new()) };
        }
        BUFFER.with(|b| match b.try_borrow_mut() {
            Ok(mut buf) => {
                buf.clear();
                buf.extend(Normalized::new(text, fold).nfc());
                self.matches_chars(&buf)
            }
            // Not reachable (matching does not nest); a fresh buffer keeps it correct anyway.
            Err(_) => {
                let buf: Vec<char> = Normalized::new(text, fold).nfc().collect();
                self.matches_chars(&buf)
            }
        })
    }

    /// Wildcard matching with single backtracking to the last `%`: linear for patterns with
    /// one `%`, at worst text length × pattern length.
    fn matches_chars(&self, text: &[char]) -> bool {
        let p = &self.pieces;
        let (mut t, mut i) = (0usize, 0usize);
        let mut star: Option<(usize, usize)> = None;
        while t < text.len() {
            match p.get(i) {
                Some(Piece::Char(c)) if *c == text[t] => {
                    i += 1;
                    t += 1;
                }
                Some(Piece::One) => {
                    i += 1;
                    t += 1;
                }
                Some(Piece::Any) => {
                    star = Some((i, t));
                    i += 1;
                }
                _ => match star {
                    Some((si, st)) => {
                        i = si + 1;
                        t = st + 1;
                        star = Some((si, st + 1));
                    }
                    None => return false,
                },
            }
        }
        p[i..].iter().all(|x| *x == Piece::Any)
    }
}
