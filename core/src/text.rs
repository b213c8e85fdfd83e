//! Vietnamese text handling: canonical storage form and the accent-insensitive search key.
//!
//! Vietnamese letters can be typed precomposed (`ễ` as one code point) or decomposed (`e` + two
//! combining marks), depending on keyboard and platform. Text is therefore stored in NFC so equal
//! names are equal bytes, and searched through a *folded* key so that "nguyen van chung" finds
//! "Nguyễn Văn Chung". The server stores the folded key next to names; the phone folds its offline
//! task list with the very same function, so both find the same things.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Returns `s` in Unicode Normalization Form C, the form all Vietnamese text is stored in.
///
/// NFC is what Vietnamese keyboards usually produce and what databases compare byte-wise, so two
/// spellings of the same name become one.
pub fn nfc(s: &str) -> String {
    s.nfc().collect()
}

/// Builds the search key of `s`: diacritics removed, `đ`/`Đ` turned into `d`, lower case, every
/// run of whitespace collapsed to one space, trimmed.
///
/// `đ` needs its own rule because it is a separate letter, not `d` plus a combining mark, so
/// decomposition alone leaves it in place. Only combining marks are dropped, so letters of other
/// scripts are kept (lower-cased) rather than silently lost.
///
/// ```
/// use cdtg_core::text::fold;
/// assert_eq!(fold("Nguyễn Văn Chung"), "nguyen van chung");
/// assert_eq!(fold("  PHƯỚC   Mỹ "), "phuoc my");
/// assert_eq!(fold("Đà Nẵng"), "da nang");
/// ```
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending_space = false;
    for c in s.nfd() {
        if is_combining_mark(c) {
            continue;
        }
        if c.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        match c {
            'đ' | 'Đ' => out.push('d'),
            _ => out.extend(c.to_lowercase()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_examples_from_the_contract() {
        assert_eq!(fold("Nguyễn Văn Chung"), "nguyen van chung");
        assert_eq!(fold("  PHƯỚC   Mỹ "), "phuoc my");
        assert_eq!(fold("Đà Nẵng"), "da nang");
    }

    #[test]
    fn fold_all_vietnamese_vowel_forms() {
        assert_eq!(fold("ÁÀẢÃẠĂẮẰẲẴẶÂẤẦẨẪẬ"), "aaaaaaaaaaaaaaaaa");
        assert_eq!(fold("ơờớởỡợôồốổỗộ"), "oooooooooooo");
        assert_eq!(fold("ưừứửữựƯỪỨỬỮỰ"), "uuuuuuuuuuuu");
        assert_eq!(fold("ÊỆỂỄẾỀ ÌÍỈĨỊ ỲÝỶỸỴ"), "eeeeee iiiii yyyyy");
    }

    #[test]
    fn fold_is_the_same_for_precomposed_and_decomposed_input() {
        let precomposed = "Nguy\u{1EC5}n";
        let decomposed = "Nguye\u{302}\u{303}n";
        assert_ne!(precomposed, decomposed);
        assert_eq!(fold(precomposed), fold(decomposed));
        assert_eq!(nfc(decomposed), precomposed);
    }

    #[test]
    fn fold_collapses_every_kind_of_whitespace() {
        assert_eq!(fold("a\t\tb\n\r c\u{00A0}d"), "a b c d");
        assert_eq!(fold(" \n "), "");
        assert_eq!(fold(""), "");
    }

    #[test]
    fn fold_keeps_other_characters() {
        assert_eq!(fold("Tổ 12-A (Hải Châu)"), "to 12-a (hai chau)");
        assert_eq!(fold("ПРИВЕТ"), "привет");
    }

    #[test]
    fn fold_is_idempotent() {
        let once = fold("  Bà Rịa – Vũng Tàu ");
        assert_eq!(fold(&once), once);
    }

    #[test]
    fn nfc_leaves_nfc_text_alone() {
        assert_eq!(nfc("Phước Mỹ"), "Phước Mỹ");
    }
}
