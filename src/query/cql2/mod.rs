//! CQL2 (OGC 21-065, Common Query Language 1.0): the `filter` language of OGC API – Features
//! Part 3. Both encodings (`cql2-text` and `cql2-json`) parse to the same [`Expr`];
//! [`Filter::bind`] checks it against what one principal sees of a layer and compiles it;
//! [`Filter::matches`] evaluates it per feature without allocating (only the DE-9IM spatial
//! functions allocate, inside `geo::Relate`).
//!
//! # Evaluation rules
//!
//! **Three-valued logic.** As the standard says (clause 6.2), a predicate evaluates to TRUE,
//! FALSE or NULL ("unknown"), and a feature is selected only when the whole filter is TRUE.
//! Unknown arises from a null attribute value anywhere in a comparison, LIKE, BETWEEN, IN,
//! arithmetic (also division by zero), CASEI/ACCENTI, or a temporal function, and from an
//! interval whose start lies after its end. The connectives follow SQL:
//!
//! | a       | b       | a AND b | a OR b  | NOT a   |
//! |---------|---------|---------|---------|---------|
//! | TRUE    | unknown | unknown | TRUE    | FALSE   |
//! | FALSE   | unknown | FALSE   | unknown | TRUE    |
//! | unknown | unknown | unknown | unknown | unknown |
//!
//! `x IN (a, b)` is `x = a OR x = b`; `x BETWEEN a AND b` is `a <= x AND x <= b`;
//! `x IS NULL` is never unknown. A feature's geometry is never null.
//!
//! **Types** are checked at bind time: numbers (integer and number attributes, numeric
//! literals, arithmetic) compare numerically with each other, strings with strings, booleans
//! with booleans, instants (date attributes, `DATE(…)`, `TIMESTAMP(…)`) with instants. One
//! leniency: a plain string literal compared (`=`, `<`, `IN`, `BETWEEN`, …) with a date
//! attribute is read as a date when it is written `YYYY-MM-DD`; any other string is an error.
//!
//! **Instants.** Dates carry no time zone; a date is compared with a timestamp as the instant
//! 00:00:00Z that starts the day, and an instant is a zero-length interval in the temporal
//! functions. Timestamps are kept to the microsecond. `'..'` is an unbounded interval end
//! (before or after every instant; two unbounded ends of the same side are equal).
//! T_AFTER, T_BEFORE, T_DISJOINT, T_EQUALS and T_INTERSECTS take instants or intervals; the
//! other ten take intervals only, and an instant there is an error, as the standard says.
//! With `[s1, e1]` the first operand and `[s2, e2]` the second (closed intervals, as the
//! standard defines them; the OWL-Time relations it cites):
//!
//! | function       | TRUE when                            |
//! |----------------|--------------------------------------|
//! | T_AFTER        | s1 > e2                              |
//! | T_BEFORE       | e1 < s2                              |
//! | T_DISJOINT     | e1 < s2 or s1 > e2                   |
//! | T_EQUALS       | s1 = s2 and e1 = e2                  |
//! | T_INTERSECTS   | s1 <= e2 and e1 >= s2                |
//! | T_CONTAINS     | s1 < s2 and e1 > e2                  |
//! | T_DURING       | s1 > s2 and e1 < e2                  |
//! | T_FINISHEDBY   | s1 < s2 and e1 = e2                  |
//! | T_FINISHES     | s1 > s2 and e1 = e2                  |
//! | T_MEETS        | e1 = s2                              |
//! | T_METBY        | s1 = e2                              |
//! | T_OVERLAPPEDBY | s1 > s2 and s1 < e2 and e1 > e2      |
//! | T_OVERLAPS     | s1 < s2 and e1 > s2 and e1 < e2      |
//! | T_STARTEDBY    | s1 = s2 and e1 > e2                  |
//! | T_STARTS       | s1 = s2 and e1 < e2                  |
//!
//! **Strings** are compared in composed form (NFC) by code point, so precomposed and
//! decomposed kana compare equal and `<`/`BETWEEN` order text as `sortby` does. `CASEI`
//! applies full case folding; `ACCENTI` removes combining marks except the Japanese voiced
//! and semi-voiced sound marks (U+3099, U+309A), which the standard recommends keeping:
//! `ACCENTI('ガ') = ACCENTI('カ')` is false. `_` in LIKE matches one composed character, so
//! one kana even when the data is decomposed.
//!
//! **Spatial** functions follow DE-9IM (`geo::Relate`); `S_WITHIN(a, b)` is "a within b".
//! Literals are in the caller's filter CRS and pass through `to_crs84` once, at bind time.
//! A `BBOX` whose west edge lies east of its east edge crosses the antimeridian, as in the
//! `bbox` parameter. The property name `geometry` always means the feature geometry.
//!
//! # Syntax accepted beyond the letter of the BNF
//!
//! `MULTIPOINT(1 2, 3 4)` as well as `MULTIPOINT((1 2), (3 4))`; a double-quoted property
//! name may hold any character (`""` for a quote); JSON operator names in any letter case.
//! Functions and array functions parse (so the standard's examples do) but binding refuses
//! them: no custom functions are offered.

mod ast;
mod bind;
mod eval;
mod json;
mod string_match;
mod text;

#[cfg(test)]
mod tests;

use std::fmt;

pub use ast::{ArithOp, ArrayOp, CmpOp, Expr, Number, SpatialOp, TemporalOp};
pub use bind::{Filter, GEOMETRY_PROPERTY};

/// The CQL2 conformance classes this module implements and tests. Array functions and custom
/// functions are not implemented.
pub const CONFORMANCE: &[&str] = &[
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/case-insensitive-comparison",
    "http://www.opengis.net/spec/cql2/1.0/conf/accent-insensitive-comparison",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/temporal-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/property-property",
    "http://www.opengis.net/spec/cql2/1.0/conf/arithmetic",
];

/// Longest filter accepted, in bytes (a polygon literal of a few thousand vertices fits).
pub const MAX_INPUT_BYTES: usize = 256 * 1024;

/// Deepest nesting accepted: parentheses, NOT, functions, arithmetic operands, JSON objects.
pub const MAX_DEPTH: usize = 100;

/// The encoding of a filter (`filter-lang`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// `cql2-text`
    Text,
    /// `cql2-json`
    Json,
}

/// Parses a filter in either encoding. Nothing is resolved yet: see [`Filter::bind`].
pub fn parse(input: &str, lang: Lang) -> Result<Expr, Cql2Error> {
    if input.len() > MAX_INPUT_BYTES {
        return Err(Cql2Error::new(format!(
            "the filter is {} bytes long; at most {MAX_INPUT_BYTES} are accepted",
            input.len()
        )));
    }
    match lang {
        Lang::Text => text::parse(input),
        Lang::Json => json::parse(input),
    }
}

/// Where in the filter an error was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// 1-based character position in CQL2 text.
    Char(usize),
    /// JSON pointer into CQL2 JSON (`/args/1`; `/` is the whole document).
    Pointer(String),
    /// Line and column of a JSON syntax error.
    LineColumn(usize, usize),
}

/// A filter that cannot be parsed or does not fit the layer. The message says what was
/// expected and, for syntax errors, where; it never names an attribute the caller cannot see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cql2Error {
    pub location: Option<Location>,
    pub message: String,
}

impl Cql2Error {
    pub(crate) fn new(message: impl Into<String>) -> Cql2Error {
        Cql2Error {
            location: None,
            message: message.into(),
        }
    }

    pub(crate) fn at_char(pos: usize, message: impl Into<String>) -> Cql2Error {
        Cql2Error {
            location: Some(Location::Char(pos)),
            message: message.into(),
        }
    }

    pub(crate) fn at_pointer(pointer: &str, message: impl Into<String>) -> Cql2Error {
        Cql2Error {
            location: Some(Location::Pointer(if pointer.is_empty() {
                "/".to_string()
            } else {
                pointer.to_string()
            })),
            message: message.into(),
        }
    }
}

impl fmt::Display for Cql2Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            None => f.write_str(&self.message),
            Some(Location::Char(c)) => write!(f, "at character {c}: {}", self.message),
            Some(Location::Pointer(p)) => write!(f, "at {p}: {}", self.message),
            Some(Location::LineColumn(l, c)) => {
                write!(f, "at line {l}, column {c}: {}", self.message)
            }
        }
    }
}

impl std::error::Error for Cql2Error {}
