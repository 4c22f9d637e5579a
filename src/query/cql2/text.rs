//! The CQL2 text encoding (`cql2-text`): a lexer and a recursive-descent parser following the
//! BNF of OGC 21-065 1.0 (`cql2.bnf`). Keywords are case-insensitive; positions in errors are
//! 1-based character offsets.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use geo::{Coord, Geometry, LineString, MultiLineString, MultiPoint, MultiPolygon, Point, Polygon};

use super::ast::{ArithOp, ArrayOp, CmpOp, Expr, Number, SpatialOp, TemporalOp};
use super::{Cql2Error, MAX_DEPTH};

/// What a comparison may continue with, for error messages.
const COMPARISON_EXPECTED: &str =
    "a comparison operator (=, <>, <, <=, >, >=, LIKE, IN, BETWEEN, IS)";
const OPERAND_EXPECTED: &str = "a property, literal or function";

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// An unquoted identifier or keyword.
    Word(String),
    /// A double-quoted identifier.
    Quoted(String),
    /// A single-quoted character literal, unescaped.
    Str(String),
    /// An unsigned numeric literal as written.
    Num(String),
    /// Punctuation and operators: ( ) , = <> < <= > >= + - * / % ^
    Sym(&'static str),
    End,
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    /// 1-based character position of the first character.
    pos: usize,
    /// The token as written, for error messages.
    text: String,
}

/// Whether `c` may start an identifier (BNF `identifierStart`).
fn is_ident_start(c: char) -> bool {
    matches!(c,
        ':' | '_' | 'A'..='Z' | 'a'..='z'
        | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}' | '\u{F8}'..='\u{2FF}'
        | '\u{370}'..='\u{37D}' | '\u{37F}'..='\u{1FFE}' | '\u{200C}'..='\u{200D}'
        | '\u{2070}'..='\u{218F}' | '\u{2C00}'..='\u{2FEF}' | '\u{3001}'..='\u{D7FF}'
        | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}' | '\u{10000}'..='\u{EFFFF}')
}

/// Whether `c` may continue an identifier (BNF `identifierPart`).
fn is_ident_part(c: char) -> bool {
    is_ident_start(c)
        || matches!(c, '.' | '0'..='9' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}')
}

fn lex(input: &str) -> Result<Vec<Token>, Cql2Error> {
    let chars: Vec<char> = input.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let pos = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let tok = if c == '\'' {
            let mut s = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => {
                        return Err(Cql2Error::at_char(
                            pos,
                            "unterminated character literal: a closing ' is missing",
                        ));
                    }
                    Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                        s.push('\'');
                        i += 2;
                    }
                    Some('\\') if chars.get(i + 1) == Some(&'\'') => {
                        s.push('\'');
                        i += 2;
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(&ch) => {
                        s.push(ch);
                        i += 1;
                    }
                }
            }
            Tok::Str(s)
        } else if c == '"' {
            let mut s = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => {
                        return Err(Cql2Error::at_char(
                            pos,
                            "unterminated quoted property name: a closing \" is missing",
                        ));
                    }
                    Some('"') if chars.get(i + 1) == Some(&'"') => {
                        s.push('"');
                        i += 2;
                    }
                    Some('"') => {
                        i += 1;
                        break;
                    }
                    Some(&ch) => {
                        s.push(ch);
                        i += 1;
                    }
                }
            }
            if s.is_empty() {
                return Err(Cql2Error::at_char(pos, "empty quoted property name"));
            }
            Tok::Quoted(s)
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            while chars.get(i).is_some_and(char::is_ascii_digit) {
                i += 1;
            }
            if chars.get(i) == Some(&'.') {
                i += 1;
                while chars.get(i).is_some_and(char::is_ascii_digit) {
                    i += 1;
                }
            }
            if matches!(chars.get(i), Some('e' | 'E')) {
                let mut j = i + 1;
                if matches!(chars.get(j), Some('+' | '-')) {
                    j += 1;
                }
                if chars.get(j).is_some_and(char::is_ascii_digit) {
                    i = j;
                    while chars.get(i).is_some_and(char::is_ascii_digit) {
                        i += 1;
                    }
                }
            }
            Tok::Num(chars[start..i].iter().collect())
        } else if is_ident_start(c) {
            while chars.get(i).is_some_and(|&ch| is_ident_part(ch)) {
                i += 1;
            }
            Tok::Word(chars[start..i].iter().collect())
        } else {
            let next = chars.get(i + 1).copied();
            let (sym, len) = match (c, next) {
                ('<', Some('>')) => ("<>", 2),
                ('<', Some('=')) => ("<=", 2),
                ('>', Some('=')) => (">=", 2),
                ('(', _) => ("(", 1),
                (')', _) => (")", 1),
                (',', _) => (",", 1),
                ('=', _) => ("=", 1),
                ('<', _) => ("<", 1),
                ('>', _) => (">", 1),
                ('+', _) => ("+", 1),
                ('-', _) => ("-", 1),
                ('*', _) => ("*", 1),
                ('/', _) => ("/", 1),
                ('%', _) => ("%", 1),
                ('^', _) => ("^", 1),
                _ => {
                    return Err(Cql2Error::at_char(
                        pos,
                        format!("unexpected character {c:?}"),
                    ));
                }
            };
            i += len;
            Tok::Sym(sym)
        };
        tokens.push(Token {
            tok,
            pos,
            text: chars[start..i].iter().collect(),
        });
    }
    tokens.push(Token {
        tok: Tok::End,
        pos: chars.len() + 1,
        text: String::new(),
    });
    Ok(tokens)
}

/// Words that always are keywords, never property names, unless double-quoted.
const RESERVED: &[&str] = &[
    "AND", "OR", "NOT", "LIKE", "BETWEEN", "IN", "IS", "NULL", "TRUE", "FALSE", "DIV",
];

const GEOMETRY_TAGS: &[&str] = &[
    "POINT",
    "LINESTRING",
    "POLYGON",
    "MULTIPOINT",
    "MULTILINESTRING",
    "MULTIPOLYGON",
    "GEOMETRYCOLLECTION",
];

/// Parses CQL2 text.
pub fn parse(input: &str) -> Result<Expr, Cql2Error> {
    let tokens = lex(input)?;
    let mut p = Parser {
        tokens,
        at: 0,
        depth: 0,
        group_start: None,
    };
    if matches!(p.peek().tok, Tok::End) {
        return Err(Cql2Error::at_char(1, "the filter is empty"));
    }
    let e = p.boolean_expression()?;
    if !matches!(p.peek().tok, Tok::End) {
        return Err(p.expected("AND, OR or the end of the filter"));
    }
    Ok(e)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    depth: usize,
    /// Token index just inside the innermost open parenthesis: a scalar that fills the whole
    /// group, as in `("foo" + 10)`, is accepted there.
    group_start: Option<usize>,
}

/// Whether an expression is a condition by itself (a boolean primary in the BNF).
fn is_condition(e: &Expr) -> bool {
    matches!(
        e,
        Expr::And(_)
            | Expr::Or(_)
            | Expr::Not(_)
            | Expr::Compare(..)
            | Expr::Like(..)
            | Expr::Between(..)
            | Expr::In(..)
            | Expr::IsNull(_)
            | Expr::Spatial(..)
            | Expr::Temporal(..)
            | Expr::ArrayPredicate(..)
            | Expr::Function(..)
            | Expr::Bool(_)
    )
}

impl Parser {
    fn peek(&self) -> &Token {
        &self.tokens[self.at.min(self.tokens.len() - 1)]
    }

    fn peek_at(&self, n: usize) -> &Token {
        &self.tokens[(self.at + n).min(self.tokens.len() - 1)]
    }

    fn bump(&mut self) -> Token {
        let t = self.peek().clone();
        if self.at < self.tokens.len() - 1 {
            self.at += 1;
        }
        t
    }

    fn found(t: &Token) -> String {
        match t.tok {
            Tok::End => "the end of the filter".to_string(),
            _ => format!("{:?}", t.text),
        }
    }

    fn expected(&self, what: &str) -> Cql2Error {
        let t = self.peek();
        Cql2Error::at_char(t.pos, format!("expected {what}, found {}", Self::found(t)))
    }

    fn is_word(t: &Token, kw: &str) -> bool {
        matches!(&t.tok, Tok::Word(w) if w.eq_ignore_ascii_case(kw))
    }

    fn is_sym(t: &Token, s: &str) -> bool {
        matches!(t.tok, Tok::Sym(x) if x == s)
    }

    fn eat_word(&mut self, kw: &str) -> bool {
        if Self::is_word(self.peek(), kw) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn eat_sym(&mut self, s: &str) -> bool {
        if Self::is_sym(self.peek(), s) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn expect_sym(&mut self, s: &str) -> Result<(), Cql2Error> {
        if self.eat_sym(s) {
            Ok(())
        } else {
            Err(self.expected(&format!("'{s}'")))
        }
    }

    /// Enters one level of nesting; every `enter` is paired with a `leave`.
    fn enter(&mut self) -> Result<(), Cql2Error> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Cql2Error::at_char(
                self.peek().pos,
                format!("the filter nests more than {MAX_DEPTH} levels deep"),
            ));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    /// Runs `f` one nesting level deeper.
    fn nested<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, Cql2Error>,
    ) -> Result<T, Cql2Error> {
        self.enter()?;
        let r = f(self);
        self.leave();
        r
    }

    /// A boolean expression, or a scalar filling the whole slot up to the next ')' or ','
    /// (a parenthesised arithmetic expression, a function argument, an array element).
    fn condition_or_scalar(&mut self) -> Result<Expr, Cql2Error> {
        let outer = self.group_start.replace(self.at);
        let e = self.boolean_expression();
        self.group_start = outer;
        e
    }

    /// booleanExpression = booleanTerm { OR booleanTerm }
    fn boolean_expression(&mut self) -> Result<Expr, Cql2Error> {
        let first = self.boolean_term()?;
        if !Self::is_word(self.peek(), "OR") {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.eat_word("OR") {
            items.push(self.boolean_term()?);
        }
        Ok(Expr::Or(items))
    }

    /// booleanTerm = booleanFactor { AND booleanFactor }
    fn boolean_term(&mut self) -> Result<Expr, Cql2Error> {
        let first = self.boolean_factor()?;
        if !Self::is_word(self.peek(), "AND") {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.eat_word("AND") {
            items.push(self.boolean_factor()?);
        }
        Ok(Expr::And(items))
    }

    /// booleanFactor = [NOT] booleanPrimary
    fn boolean_factor(&mut self) -> Result<Expr, Cql2Error> {
        if self.eat_word("NOT") {
            let inner = self.nested(Self::boolean_factor)?;
            return Ok(Expr::Not(Box::new(inner)));
        }
        self.predicate()
    }

    /// A scalar operand followed by a comparison, or a condition standing alone.
    fn predicate(&mut self) -> Result<Expr, Cql2Error> {
        let start = self.at;
        let left = self.scalar()?;
        let negated = if Self::is_word(self.peek(), "NOT")
            && ["LIKE", "BETWEEN", "IN"]
                .iter()
                .any(|kw| Self::is_word(self.peek_at(1), kw))
        {
            self.bump();
            true
        } else {
            false
        };
        let t = self.peek().clone();
        let e = if let Tok::Sym(s) = t.tok
            && let Some(op) = CmpOp::from_symbol(s)
        {
            self.bump();
            let right = self.scalar()?;
            Expr::Compare(op, Box::new(left), Box::new(right))
        } else if self.eat_word("LIKE") {
            let pattern = self.scalar()?;
            Expr::Like(Box::new(left), Box::new(pattern))
        } else if self.eat_word("BETWEEN") {
            let low = self.scalar()?;
            if !self.eat_word("AND") {
                return Err(self.expected("AND (of BETWEEN … AND …)"));
            }
            let high = self.scalar()?;
            Expr::Between(Box::new(left), Box::new(low), Box::new(high))
        } else if self.eat_word("IN") {
            self.expect_sym("(")?;
            let mut list = vec![self.scalar()?];
            while self.eat_sym(",") {
                list.push(self.scalar()?);
            }
            if !self.eat_sym(")") {
                return Err(self.expected("',' or ')' in the IN list"));
            }
            Expr::In(Box::new(left), list)
        } else if self.eat_word("IS") {
            let not = self.eat_word("NOT");
            if !self.eat_word("NULL") {
                return Err(self.expected("NULL"));
            }
            let e = Expr::IsNull(Box::new(left));
            return Ok(if not { Expr::Not(Box::new(e)) } else { e });
        } else if is_condition(&left)
            || (self.group_start == Some(start)
                && (Self::is_sym(self.peek(), ")") || Self::is_sym(self.peek(), ",")))
        {
            return Ok(left);
        } else {
            return Err(self.expected(COMPARISON_EXPECTED));
        };
        Ok(if negated { Expr::Not(Box::new(e)) } else { e })
    }

    /// A scalar expression: arithmeticExpression and everything it may stand for.
    fn scalar(&mut self) -> Result<Expr, Cql2Error> {
        self.additive()
    }

    fn additive(&mut self) -> Result<Expr, Cql2Error> {
        let mut e = self.multiplicative()?;
        let mut levels = 0;
        loop {
            let op = if self.eat_sym("+") {
                ArithOp::Add
            } else if self.eat_sym("-") {
                ArithOp::Sub
            } else {
                break;
            };
            // Each further operator makes the left-leaning tree one level deeper.
            self.enter()?;
            levels += 1;
            let right = self.multiplicative()?;
            e = Expr::Arith(op, Box::new(e), Box::new(right));
        }
        self.depth -= levels;
        Ok(e)
    }

    fn multiplicative(&mut self) -> Result<Expr, Cql2Error> {
        let mut e = self.power()?;
        let mut levels = 0;
        loop {
            let op = if self.eat_sym("*") {
                ArithOp::Mul
            } else if self.eat_sym("/") {
                ArithOp::Div
            } else if self.eat_sym("%") {
                ArithOp::Mod
            } else if self.eat_word("DIV") {
                ArithOp::IntDiv
            } else {
                break;
            };
            self.enter()?;
            levels += 1;
            let right = self.power()?;
            e = Expr::Arith(op, Box::new(e), Box::new(right));
        }
        self.depth -= levels;
        Ok(e)
    }

    /// powerTerm = arithmeticFactor [ ^ powerTerm ] (right-associative).
    fn power(&mut self) -> Result<Expr, Cql2Error> {
        let base = self.unary()?;
        if self.eat_sym("^") {
            let exp = self.nested(Self::power)?;
            return Ok(Expr::Arith(ArithOp::Pow, Box::new(base), Box::new(exp)));
        }
        Ok(base)
    }

    fn unary(&mut self) -> Result<Expr, Cql2Error> {
        let sign = if Self::is_sym(self.peek(), "-") {
            -1
        } else if Self::is_sym(self.peek(), "+") {
            1
        } else {
            return self.primary();
        };
        self.bump();
        if matches!(self.peek().tok, Tok::Num(_)) {
            let n = self.number()?;
            return Ok(Expr::Number(if sign < 0 { negate(n) } else { n }));
        }
        let operand = self.nested(Self::unary)?;
        Ok(if sign < 0 {
            Expr::Arith(
                ArithOp::Mul,
                Box::new(Expr::Number(Number::Int(-1))),
                Box::new(operand),
            )
        } else {
            operand
        })
    }

    fn number(&mut self) -> Result<Number, Cql2Error> {
        let t = self.bump();
        let Tok::Num(text) = &t.tok else {
            return Err(Cql2Error::at_char(
                t.pos,
                format!("expected a number, found {}", Self::found(&t)),
            ));
        };
        parse_number(text)
            .ok_or_else(|| Cql2Error::at_char(t.pos, format!("number {text} is out of range")))
    }

    /// A number with an optional sign, as in coordinates and BBOX.
    fn signed_number(&mut self) -> Result<f64, Cql2Error> {
        let neg = if self.eat_sym("-") {
            true
        } else {
            self.eat_sym("+");
            false
        };
        if !matches!(self.peek().tok, Tok::Num(_)) {
            return Err(self.expected("a number"));
        }
        let n = self.number()?.as_f64();
        Ok(if neg { -n } else { n })
    }

    fn primary(&mut self) -> Result<Expr, Cql2Error> {
        let t = self.peek().clone();
        match &t.tok {
            Tok::Num(_) => Ok(Expr::Number(self.number()?)),
            Tok::Str(s) => {
                self.bump();
                Ok(Expr::Str(s.clone()))
            }
            Tok::Quoted(name) => {
                self.bump();
                Ok(Expr::Property(name.clone()))
            }
            Tok::Sym("(") => {
                self.bump();
                let e = self.nested(Self::condition_or_scalar)?;
                if !self.eat_sym(")") {
                    return Err(self.expected("')'"));
                }
                Ok(e)
            }
            Tok::Word(w) => self.word(w.clone(), &t),
            _ => Err(self.expected(OPERAND_EXPECTED)),
        }
    }

    /// An unquoted word in operand position: literal keyword, special form, function call or
    /// property name.
    fn word(&mut self, w: String, t: &Token) -> Result<Expr, Cql2Error> {
        let upper = w.to_ascii_uppercase();
        match upper.as_str() {
            "TRUE" => {
                self.bump();
                return Ok(Expr::Bool(true));
            }
            "FALSE" => {
                self.bump();
                return Ok(Expr::Bool(false));
            }
            "NULL" => {
                return Err(Cql2Error::at_char(
                    t.pos,
                    "NULL may only be used in IS NULL or IS NOT NULL",
                ));
            }
            _ => {}
        }
        if RESERVED.contains(&upper.as_str()) {
            return Err(self.expected(OPERAND_EXPECTED));
        }
        let next = self.peek_at(1).clone();
        let called = Self::is_sym(&next, "(");
        if GEOMETRY_TAGS.contains(&upper.as_str())
            && (called || Self::is_word(&next, "Z") || Self::is_word(&next, "EMPTY"))
        {
            return self.nested(Self::geometry_literal).map(Expr::Geometry);
        }
        if !called {
            self.bump();
            return Ok(Expr::Property(w));
        }
        self.bump();
        self.nested(|p| p.call(w, upper, t))
    }

    /// A call: the special forms (CASEI, DATE, INTERVAL, S_*, …) and custom functions.
    fn call(&mut self, name: String, upper: String, t: &Token) -> Result<Expr, Cql2Error> {
        self.expect_sym("(")?;
        let e = match upper.as_str() {
            "CASEI" | "ACCENTI" => {
                let arg = self.scalar()?;
                if upper == "CASEI" {
                    Expr::CaseI(Box::new(arg))
                } else {
                    Expr::AccentI(Box::new(arg))
                }
            }
            "DATE" => {
                let (s, pos) = self.string_arg("a date 'YYYY-MM-DD'")?;
                Expr::Date(parse_date(&s).ok_or_else(|| {
                    Cql2Error::at_char(pos, format!("expected a date 'YYYY-MM-DD', found {s:?}"))
                })?)
            }
            "TIMESTAMP" => {
                let (s, pos) = self.string_arg("a timestamp 'YYYY-MM-DDTHH:MM:SSZ'")?;
                Expr::Timestamp(parse_timestamp(&s).ok_or_else(|| {
                    Cql2Error::at_char(
                        pos,
                        format!(
                            "expected a timestamp 'YYYY-MM-DDTHH:MM:SS[.ffffff]Z', found {s:?}"
                        ),
                    )
                })?)
            }
            "INTERVAL" => {
                let start = self.interval_end()?;
                self.expect_sym(",")?;
                let end = self.interval_end()?;
                Expr::Interval(Box::new(start), Box::new(end))
            }
            "BBOX" => {
                let mut n = vec![self.signed_number()?];
                while self.eat_sym(",") {
                    n.push(self.signed_number()?);
                }
                if n.len() != 4 && n.len() != 6 {
                    return Err(Cql2Error::at_char(
                        t.pos,
                        format!("BBOX needs 4 or 6 numbers, found {}", n.len()),
                    ));
                }
                Expr::Bbox(n)
            }
            _ => {
                if let Some(op) = SpatialOp::from_name(&upper) {
                    let (a, b) = self.two_args(Self::scalar)?;
                    Expr::Spatial(op, a, b)
                } else if let Some(op) = TemporalOp::from_name(&upper) {
                    let (a, b) = self.two_args(Self::scalar)?;
                    Expr::Temporal(op, a, b)
                } else if let Some(op) = ArrayOp::from_name(&upper) {
                    let (a, b) = self.two_args(Self::array_operand)?;
                    Expr::ArrayPredicate(op, a, b)
                } else {
                    let mut args = Vec::new();
                    if !Self::is_sym(self.peek(), ")") {
                        args.push(self.argument()?);
                        while self.eat_sym(",") {
                            args.push(self.argument()?);
                        }
                    }
                    Expr::Function(name, args)
                }
            }
        };
        if !self.eat_sym(")") {
            return Err(self.expected("')'"));
        }
        Ok(e)
    }

    fn two_args(
        &mut self,
        operand: fn(&mut Self) -> Result<Expr, Cql2Error>,
    ) -> Result<(Box<Expr>, Box<Expr>), Cql2Error> {
        let a = operand(self)?;
        if !self.eat_sym(",") {
            return Err(self.expected("',' and a second argument"));
        }
        let b = operand(self)?;
        Ok((Box::new(a), Box::new(b)))
    }

    fn string_arg(&mut self, what: &str) -> Result<(String, usize), Cql2Error> {
        let t = self.peek().clone();
        match t.tok {
            Tok::Str(s) => {
                self.bump();
                Ok((s, t.pos))
            }
            _ => Err(self.expected(what)),
        }
    }

    /// instantParameter: a date or timestamp string, '..', a property or a function.
    fn interval_end(&mut self) -> Result<Expr, Cql2Error> {
        let t = self.peek().clone();
        if let Tok::Str(s) = &t.tok {
            self.bump();
            return instant_string(s).ok_or_else(|| {
                Cql2Error::at_char(
                    t.pos,
                    format!("expected a date, a timestamp or '..' as interval end, found {s:?}"),
                )
            });
        }
        self.scalar()
    }

    /// An array function operand: a parenthesised list, a property or a function.
    fn array_operand(&mut self) -> Result<Expr, Cql2Error> {
        if Self::is_sym(self.peek(), "(") {
            self.bump();
            return self.nested(Self::array_rest);
        }
        self.scalar()
    }

    /// The elements of an array after its '(' and the closing ')'.
    fn array_rest(&mut self) -> Result<Expr, Cql2Error> {
        let mut items = Vec::new();
        if !self.eat_sym(")") {
            items.push(self.array_operand_element()?);
            while self.eat_sym(",") {
                items.push(self.array_operand_element()?);
            }
            if !self.eat_sym(")") {
                return Err(self.expected("',' or ')' in the array"));
            }
        }
        Ok(Expr::Array(items))
    }

    fn array_operand_element(&mut self) -> Result<Expr, Cql2Error> {
        if Self::is_sym(self.peek(), "(") {
            self.bump();
            return self.nested(Self::array_rest);
        }
        self.condition_or_scalar()
    }

    /// A custom function argument; `(a, b)` is an array, `(x)` a parenthesised expression.
    fn argument(&mut self) -> Result<Expr, Cql2Error> {
        if Self::is_sym(self.peek(), "(") {
            let save = self.at;
            self.bump();
            if self.eat_sym(")") {
                return Ok(Expr::Array(Vec::new()));
            }
            let first = self.nested(Self::array_operand_element)?;
            if Self::is_sym(self.peek(), ",") {
                let mut items = vec![first];
                while self.eat_sym(",") {
                    items.push(self.nested(Self::array_operand_element)?);
                }
                if !self.eat_sym(")") {
                    return Err(self.expected("',' or ')' in the array"));
                }
                return Ok(Expr::Array(items));
            }
            self.at = save;
        }
        self.condition_or_scalar()
    }

    /// A WKT literal, the tag being the current token.
    fn geometry_literal(&mut self) -> Result<Geometry<f64>, Cql2Error> {
        let tag = self.bump();
        let upper = tag.text.to_ascii_uppercase();
        self.eat_word("Z");
        if Self::is_word(self.peek(), "EMPTY") {
            return Err(Cql2Error::at_char(
                self.peek().pos,
                "empty geometries are not supported",
            ));
        }
        Ok(match upper.as_str() {
            "POINT" => {
                self.expect_sym("(")?;
                let c = self.coord()?;
                self.expect_sym(")")?;
                Geometry::Point(Point(c))
            }
            "LINESTRING" => Geometry::LineString(self.line_string()?),
            "POLYGON" => Geometry::Polygon(self.polygon()?),
            "MULTIPOINT" => {
                self.expect_sym("(")?;
                let mut points = Vec::new();
                loop {
                    // Both MULTIPOINT((1 2), (3 4)) and MULTIPOINT(1 2, 3 4) are written.
                    let c = if self.eat_sym("(") {
                        let c = self.coord()?;
                        self.expect_sym(")")?;
                        c
                    } else {
                        self.coord()?
                    };
                    points.push(Point(c));
                    if !self.eat_sym(",") {
                        break;
                    }
                }
                self.expect_sym(")")?;
                Geometry::MultiPoint(MultiPoint(points))
            }
            "MULTILINESTRING" => {
                let lines = self.list_of(Self::line_string)?;
                Geometry::MultiLineString(MultiLineString(lines))
            }
            "MULTIPOLYGON" => {
                let polygons = self.list_of(Self::polygon)?;
                Geometry::MultiPolygon(MultiPolygon(polygons))
            }
            _ => {
                self.expect_sym("(")?;
                let mut members = Vec::new();
                loop {
                    let t = self.peek().clone();
                    let is_tag = matches!(&t.tok, Tok::Word(w)
                        if GEOMETRY_TAGS.contains(&w.to_ascii_uppercase().as_str()));
                    if !is_tag {
                        return Err(self.expected("a geometry (POINT, LINESTRING, POLYGON, …)"));
                    }
                    members.push(self.nested(Self::geometry_literal)?);
                    if !self.eat_sym(",") {
                        break;
                    }
                }
                self.expect_sym(")")?;
                Geometry::GeometryCollection(geo::GeometryCollection(members))
            }
        })
    }

    /// '(' item {',' item} ')'
    fn list_of<T>(
        &mut self,
        item: fn(&mut Self) -> Result<T, Cql2Error>,
    ) -> Result<Vec<T>, Cql2Error> {
        self.expect_sym("(")?;
        let mut out = vec![item(self)?];
        while self.eat_sym(",") {
            out.push(item(self)?);
        }
        self.expect_sym(")")?;
        Ok(out)
    }

    /// x y [z]; z is read and dropped.
    fn coord(&mut self) -> Result<Coord<f64>, Cql2Error> {
        let x = self.signed_number()?;
        let y = self.signed_number()?;
        if matches!(self.peek().tok, Tok::Num(_)) || Self::is_sym(self.peek(), "-") {
            self.signed_number()?;
        }
        Ok(Coord { x, y })
    }

    fn coords(&mut self) -> Result<(Vec<Coord<f64>>, usize), Cql2Error> {
        let pos = self.peek().pos;
        let coords = self.list_of(Self::coord)?;
        Ok((coords, pos))
    }

    fn line_string(&mut self) -> Result<LineString<f64>, Cql2Error> {
        let (coords, pos) = self.coords()?;
        if coords.len() < 2 {
            return Err(Cql2Error::at_char(pos, "a line needs at least 2 points"));
        }
        Ok(LineString(coords))
    }

    fn ring(&mut self) -> Result<LineString<f64>, Cql2Error> {
        let (coords, pos) = self.coords()?;
        check_ring(&coords).map_err(|m| Cql2Error::at_char(pos, m))?;
        Ok(LineString(coords))
    }

    fn polygon(&mut self) -> Result<Polygon<f64>, Cql2Error> {
        let mut rings = self.list_of(Self::ring)?;
        let exterior = rings.remove(0);
        Ok(Polygon::new(exterior, rings))
    }
}

/// A polygon ring must be closed and have at least 4 positions.
pub(crate) fn check_ring(coords: &[Coord<f64>]) -> Result<(), String> {
    if coords.len() < 4 {
        return Err(format!(
            "a polygon ring needs at least 4 points (the last repeating the first), found {}",
            coords.len()
        ));
    }
    if coords.first() != coords.last() {
        return Err("a polygon ring must end with its first point".to_string());
    }
    Ok(())
}

fn negate(n: Number) -> Number {
    match n {
        Number::Int(i) => i
            .checked_neg()
            .map_or(Number::Float(-(i as f64)), Number::Int),
        Number::Float(f) => Number::Float(-f),
    }
}

/// An unsigned numeric literal: an integer when it has no point or exponent and fits.
fn parse_number(text: &str) -> Option<Number> {
    if text.bytes().all(|b| b.is_ascii_digit())
        && let Ok(i) = text.parse::<i64>()
    {
        return Some(Number::Int(i));
    }
    let f: f64 = text.parse().ok()?;
    f.is_finite().then_some(Number::Float(f))
}

/// `YYYY-MM-DD`
pub(crate) fn parse_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction]Z`, always UTC as the standard requires.
pub(crate) fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    if !s.is_ascii() {
        return None;
    }
    let body = s.strip_suffix('Z')?;
    let b = body.as_bytes();
    if b.len() < 19 || b[10] != b'T' || parse_date(&body[..10]).is_none() {
        return None;
    }
    if b.len() > 19 && (b[19] != b'.' || b.len() == 20) {
        return None;
    }
    let t = NaiveDateTime::parse_from_str(body, "%Y-%m-%dT%H:%M:%S%.f").ok()?;
    Some(t.and_utc())
}

/// A quoted interval end: '..', a date or a timestamp.
pub(crate) fn instant_string(s: &str) -> Option<Expr> {
    if s == ".." {
        Some(Expr::Unbounded)
    } else if let Some(d) = parse_date(s) {
        Some(Expr::Date(d))
    } else {
        parse_timestamp(s).map(Expr::Timestamp)
    }
}
