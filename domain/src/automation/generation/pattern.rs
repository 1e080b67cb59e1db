//! Strings that match an HTML `pattern`: the pattern's syntax tree, with every character
//! class narrowed to printable ASCII (what a person types and WebDriver sends reliably),
//! sampled by `rand_regex`.

use rand::Rng;
use regex_syntax::hir::{Class, ClassUnicode, ClassUnicodeRange, Hir, HirKind};

/// How many extra repetitions `*`, `+` and `{n,}` may add.
const MAX_REPEAT: u32 = 12;

pub struct PatternGen {
    sampler: rand_regex::Regex,
}

impl PatternGen {
    /// `None` when no printable-ASCII string can match (a class of only other
    /// characters) or the pattern uses what the sampler cannot (look-around, anchors
    /// inside it).
    pub fn new(pattern: &str) -> Option<Self> {
        let hir = regex_syntax::ParserBuilder::new()
            .build()
            .parse(pattern)
            .ok()?;
        let hir = printable(hir)?;
        let sampler = rand_regex::Regex::with_hir(hir, MAX_REPEAT).ok()?;
        Some(PatternGen { sampler })
    }

    pub fn sample(&self, rng: &mut impl Rng) -> String {
        rng.sample::<String, _>(&self.sampler)
    }
}

fn printable(hir: Hir) -> Option<Hir> {
    Some(match hir.into_kind() {
        HirKind::Class(Class::Unicode(mut class)) => {
            class.intersect(&ClassUnicode::new([ClassUnicodeRange::new(' ', '~')]));
            if class.ranges().is_empty() {
                return None;
            }
            Hir::class(Class::Unicode(class))
        }
        HirKind::Class(Class::Bytes(mut class)) => {
            class.intersect(&regex_syntax::hir::ClassBytes::new([
                regex_syntax::hir::ClassBytesRange::new(b' ', b'~'),
            ]));
            if class.ranges().is_empty() {
                return None;
            }
            Hir::class(Class::Bytes(class))
        }
        HirKind::Literal(lit) => {
            if !lit.0.iter().all(|b| (b' '..=b'~').contains(b)) {
                return None;
            }
            Hir::literal(lit.0)
        }
        HirKind::Empty => Hir::empty(),
        // `^`/`$` at the very edges are what HTML adds anyway; elsewhere they cannot
        // be honoured by sampling.
        HirKind::Look(_) => Hir::empty(),
        HirKind::Repetition(mut rep) => {
            let sub = std::mem::replace(&mut rep.sub, Box::new(Hir::empty()));
            match printable(*sub) {
                Some(sub) => {
                    rep.sub = Box::new(sub);
                    Hir::repetition(rep)
                }
                // Zero repetitions still match.
                None if rep.min == 0 => Hir::empty(),
                None => return None,
            }
        }
        HirKind::Capture(mut cap) => {
            let sub = std::mem::replace(&mut cap.sub, Box::new(Hir::empty()));
            cap.sub = Box::new(printable(*sub)?);
            Hir::capture(cap)
        }
        HirKind::Concat(parts) => Hir::concat(
            parts
                .into_iter()
                .map(printable)
                .collect::<Option<Vec<_>>>()?,
        ),
        HirKind::Alternation(alts) => {
            let alts: Vec<Hir> = alts.into_iter().filter_map(printable).collect();
            if alts.is_empty() {
                return None;
            }
            Hir::alternation(alts)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::automation::values::compile_pattern;
    use rand::SeedableRng;

    #[test]
    fn samples_match_and_stay_printable() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for pattern in [
            r"[A-Z]{2}[0-9]{3}",
            r"\d{5}(-\d{4})?",
            r"[^@\s]+@corp\.example",
            r"(foo|bar)+\w*",
            r"\+?[0-9 ]{7,15}",
            r"^HR\d{6}$",
        ] {
            let generator = PatternGen::new(pattern).expect(pattern);
            let re = compile_pattern(pattern).unwrap();
            for _ in 0..50 {
                let s = generator.sample(&mut rng);
                assert!(re.is_match(&s), "{s:?} should match {pattern}");
                assert!(s.chars().all(|c| (' '..='~').contains(&c)), "{s:?}");
            }
        }
        assert!(PatternGen::new(r"[é-ü]+").is_none(), "no printable ASCII");
        assert!(PatternGen::new(r"(?=a)a").is_none(), "look-ahead");
    }
}
