//! The `condition` language: `and`, `or`, `not`, parentheses, `1 of x*`, `all of x*`,
//! `N of x*`, `them`. Selection names resolve to indexes once, here; a name or pattern
//! that names no selection is an error.

use super::RuleError;

/// A parsed condition over selection indexes.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Sel(usize),
    /// At least `n` of the expressions (`2 of x*`); `1 of` and `all of` become Or/And.
    AtLeast(usize, Vec<Expr>),
}

/// Longest condition accepted: SigmaHQ's longest is a few hundred characters.
const MAX_CONDITION_LEN: usize = 64 * 1024;
/// Deepest parenthesis/`not` nesting accepted (bounds the recursive parser).
const MAX_NESTING: usize = 64;

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    LParen,
    RParen,
    And,
    Or,
    Not,
    Of(Quant),
    Them,
    Ident(String),
    Pipe,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Quant {
    All,
    N(usize),
}

fn tokenize(s: &str) -> Result<Vec<Tok>, RuleError> {
    let mut toks = Vec::new();
    let mut words = Vec::new();
    let mut cur = String::new();
    for c in s.chars() {
        match c {
            '(' | ')' | '|' => {
                if !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                }
                words.push(c.to_string());
            }
            c if c.is_whitespace() => {
                if !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    let mut i = 0;
    while let Some(w) = words.get(i) {
        let lower = w.to_ascii_lowercase();
        let next_is_of = words
            .get(i + 1)
            .is_some_and(|n| n.eq_ignore_ascii_case("of"));
        let tok = match lower.as_str() {
            "(" => Tok::LParen,
            ")" => Tok::RParen,
            "|" => Tok::Pipe,
            "and" => Tok::And,
            "or" => Tok::Or,
            "not" => Tok::Not,
            "them" => Tok::Them,
            "all" | "any" if next_is_of => {
                i += 1;
                Tok::Of(if lower == "all" {
                    Quant::All
                } else {
                    Quant::N(1)
                })
            }
            n if next_is_of && n.parse::<usize>().is_ok() => {
                i += 1;
                Tok::Of(Quant::N(n.parse().unwrap_or(1)))
            }
            _ => Tok::Ident(w.clone()),
        };
        toks.push(tok);
        i += 1;
    }
    Ok(toks)
}

struct P<'a> {
    toks: Vec<Tok>,
    pos: usize,
    names: &'a [String],
    depth: usize,
}

impl P<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn or(&mut self) -> Result<Expr, RuleError> {
        let mut parts = vec![self.and()?];
        while self.peek() == Some(&Tok::Or) {
            self.pos += 1;
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::Or(parts)
        })
    }

    fn and(&mut self) -> Result<Expr, RuleError> {
        let mut parts = vec![self.not()?];
        while self.peek() == Some(&Tok::And) {
            self.pos += 1;
            parts.push(self.not()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::And(parts)
        })
    }

    fn not(&mut self) -> Result<Expr, RuleError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(RuleError::Condition(format!(
                "nested deeper than {MAX_NESTING} levels"
            )));
        }
        let r = if self.peek() == Some(&Tok::Not) {
            self.pos += 1;
            self.not().map(|e| Expr::Not(Box::new(e)))
        } else {
            self.primary()
        };
        self.depth -= 1;
        r
    }

    fn primary(&mut self) -> Result<Expr, RuleError> {
        match self.next() {
            Some(Tok::LParen) => {
                let e = self.or()?;
                match self.next() {
                    Some(Tok::RParen) => Ok(e),
                    _ => Err(RuleError::Condition("missing ')'".into())),
                }
            }
            Some(Tok::Of(q)) => {
                let sels: Vec<usize> = match self.next() {
                    Some(Tok::Them) => (0..self.names.len())
                        .filter(|&i| self.names.get(i).is_some_and(|n| !n.starts_with('_')))
                        .collect(),
                    Some(Tok::Ident(pat)) => {
                        let found: Vec<usize> = (0..self.names.len())
                            .filter(|&i| self.names.get(i).is_some_and(|n| name_matches(&pat, n)))
                            .collect();
                        if found.is_empty() {
                            return Err(RuleError::MissingSelection(pat));
                        }
                        found
                    }
                    other => {
                        return Err(RuleError::Condition(format!(
                            "expected a selection pattern or 'them' after 'of', found {other:?}"
                        )));
                    }
                };
                let exprs: Vec<Expr> = sels.into_iter().map(Expr::Sel).collect();
                Ok(match q {
                    Quant::All => Expr::And(exprs),
                    Quant::N(1) => Expr::Or(exprs),
                    Quant::N(n) => Expr::AtLeast(n, exprs),
                })
            }
            Some(Tok::Ident(name)) => match self.names.iter().position(|n| *n == name) {
                Some(i) => Ok(Expr::Sel(i)),
                None => Err(RuleError::MissingSelection(name)),
            },
            Some(Tok::Pipe) => Err(RuleError::Condition(
                "aggregations ('| count() ...') are not supported; use correlation rules".into(),
            )),
            other => Err(RuleError::Condition(format!("unexpected {other:?}"))),
        }
    }
}

/// Glob on selection names: `*` only, as the specification defines it. Greedy with one
/// backtrack point (the last `*`), so O(pattern × name): trying every split at every
/// `*` recursively took exponential time on `1 of ****…x` (found by fuzzing).
fn name_matches(pat: &str, name: &str) -> bool {
    let (p, n) = (pat.as_bytes(), name.as_bytes());
    let (mut pi, mut ni) = (0usize, 0usize);
    // (pattern index after the last `*`, name index that `*` currently stops at)
    let mut star: Option<(usize, usize)> = None;
    while let Some(&c) = n.get(ni) {
        match p.get(pi) {
            Some(b'*') => {
                pi += 1;
                star = Some((pi, ni));
            }
            Some(&pc) if pc == c => {
                pi += 1;
                ni += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    pi = sp;
                    ni = sn + 1;
                    star = Some((sp, ni));
                }
                None => return false,
            },
        }
    }
    p.get(pi..).unwrap_or_default().iter().all(|&c| c == b'*')
}

/// Parses one condition string against the rule's selection names.
pub fn parse(cond: &str, names: &[String]) -> Result<Expr, RuleError> {
    if cond.len() > MAX_CONDITION_LEN {
        return Err(RuleError::Condition(format!(
            "longer than {MAX_CONDITION_LEN} bytes"
        )));
    }
    let toks = tokenize(cond)?;
    if toks.is_empty() {
        return Err(RuleError::Condition("empty condition".into()));
    }
    let mut p = P {
        toks,
        pos: 0,
        names,
        depth: 0,
    };
    let e = p.or()?;
    match p.peek() {
        None => Ok(e),
        Some(Tok::Pipe) => Err(RuleError::Condition(
            "aggregations ('| count() ...') are not supported; use correlation rules".into(),
        )),
        Some(t) => Err(RuleError::Condition(format!(
            "unexpected {t:?} after a complete expression"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        [
            "selection",
            "filter_main_a",
            "filter_main_b",
            "filter_optional_x",
            "_hidden",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    #[test]
    fn one_of_many_stars_is_not_exponential() {
        // fuzz/artifacts/sigma_loader/timeout-dce41db…: `1 of` a pattern of 50 stars
        // ran for more than 10 s.
        let names: Vec<String> = vec!["selection1".into()];
        let pat = format!("1 of {}c-iplection*", "*".repeat(50));
        let start = std::time::Instant::now();
        assert!(parse(&pat, &names).is_err(), "matches no selection");
        assert!(start.elapsed() < std::time::Duration::from_secs(1));
        let pat = format!("1 of {}lection*", "*".repeat(50));
        assert!(parse(&pat, &names).is_ok());
    }

    #[test]
    fn name_glob_matches_like_the_spec() {
        for (pat, name, want) in [
            ("sel*", "selection", true),
            ("*tion", "selection", true),
            ("s*l*n", "selection", true),
            ("*", "", true),
            ("a*b", "ab", true),
            ("a*b", "acb", true),
            ("a*b", "abc", false),
            ("*ab*ab", "abxab", true),
            ("*ab*ab", "abxa", false),
            ("filter_*", "selection", false),
            ("exact", "exact", true),
            ("exact", "exactly", false),
        ] {
            assert_eq!(name_matches(pat, name), want, "{pat} ~ {name}");
        }
    }

    #[test]
    fn precedence_and_quantifiers() {
        let n = names();
        assert_eq!(parse("selection", &n).unwrap(), Expr::Sel(0));
        assert_eq!(
            parse("selection and not 1 of filter_main_*", &n).unwrap(),
            Expr::And(vec![
                Expr::Sel(0),
                Expr::Not(Box::new(Expr::Or(vec![Expr::Sel(1), Expr::Sel(2)])))
            ])
        );
        assert_eq!(
            parse("selection or filter_main_a and filter_main_b", &n).unwrap(),
            Expr::Or(vec![
                Expr::Sel(0),
                Expr::And(vec![Expr::Sel(1), Expr::Sel(2)])
            ])
        );
        assert_eq!(
            parse("(selection or filter_main_a) and not (filter_main_b)", &n).unwrap(),
            Expr::And(vec![
                Expr::Or(vec![Expr::Sel(0), Expr::Sel(1)]),
                Expr::Not(Box::new(Expr::Sel(2)))
            ])
        );
        assert_eq!(
            parse("all of them", &n).unwrap(),
            Expr::And((0..4).map(Expr::Sel).collect())
        );
        assert_eq!(
            parse("1 of them", &n).unwrap(),
            Expr::Or((0..4).map(Expr::Sel).collect())
        );
        assert_eq!(
            parse("all of filter_*", &n).unwrap(),
            Expr::And(vec![Expr::Sel(1), Expr::Sel(2), Expr::Sel(3)])
        );
        assert_eq!(
            parse("2 of filter_*", &n).unwrap(),
            Expr::AtLeast(2, vec![Expr::Sel(1), Expr::Sel(2), Expr::Sel(3)])
        );
        assert_eq!(
            parse("NOT selection", &n).unwrap(),
            Expr::Not(Box::new(Expr::Sel(0)))
        );
    }

    #[test]
    fn errors_are_clear() {
        let n = names();
        assert!(
            matches!(parse("selection and missing", &n), Err(RuleError::MissingSelection(m)) if m == "missing")
        );
        assert!(matches!(
            parse("1 of nothing*", &n),
            Err(RuleError::MissingSelection(_))
        ));
        assert!(matches!(
            parse("(selection", &n),
            Err(RuleError::Condition(_))
        ));
        assert!(matches!(
            parse("selection | count() > 5", &n),
            Err(RuleError::Condition(_))
        ));
        assert!(matches!(parse("", &n), Err(RuleError::Condition(_))));
        assert!(matches!(
            parse("selection selection", &n),
            Err(RuleError::Condition(_))
        ));
        let deep = "(".repeat(10_000) + "selection" + &")".repeat(10_000);
        assert!(parse(&deep, &n).is_err());
    }
}
