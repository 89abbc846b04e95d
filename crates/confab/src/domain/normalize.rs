//! Unicode normalisation of identifiers (email addresses): look-alike spellings of one
//! address must compare equal, so `ann@example.com`, `ａｎｎ＠ｅｘａｍｐｌｅ．ｃｏｍ` and
//! `ann\u{200B}@example.com` name one account.
//!
//! The steps: NFKC (full-width and other compatibility forms become their plain
//! letters), then removal of default-ignorable code points (invisible characters that
//! render as nothing), then lower-casing, then NFKC again (lower-casing can leave a
//! string that is no longer in NFKC).

use unicode_normalization::UnicodeNormalization as _;

/// Unicode's `Default_Ignorable_Code_Point` property (DerivedCoreProperties.txt,
/// Unicode 15.1), as inclusive ranges in ascending order.
const DEFAULT_IGNORABLE: &[(u32, u32)] = &[
    (0x00AD, 0x00AD),   // soft hyphen
    (0x034F, 0x034F),   // combining grapheme joiner
    (0x061C, 0x061C),   // Arabic letter mark
    (0x115F, 0x1160),   // Hangul choseong/jungseong fillers
    (0x17B4, 0x17B5),   // Khmer inherent vowels
    (0x180B, 0x180F),   // Mongolian free variation selectors, vowel separator
    (0x200B, 0x200F),   // zero width space, (non-)joiner, LRM, RLM
    (0x202A, 0x202E),   // bidi embeddings and overrides
    (0x2060, 0x206F),   // word joiner, invisible operators, bidi isolates, deprecated
    (0x3164, 0x3164),   // Hangul filler
    (0xFE00, 0xFE0F),   // variation selectors
    (0xFEFF, 0xFEFF),   // zero width no-break space (BOM)
    (0xFFA0, 0xFFA0),   // half-width Hangul filler
    (0xFFF0, 0xFFF8),   // unassigned, reserved as ignorable
    (0x1BCA0, 0x1BCA3), // shorthand format controls
    (0x1D173, 0x1D17A), // musical symbol format controls
    (0xE0000, 0xE0FFF), // tags, variation selectors supplement, reserved
];

/// Whether `c` is a default-ignorable code point (renders as nothing).
pub fn is_default_ignorable(c: char) -> bool {
    let c = u32::from(c);
    DEFAULT_IGNORABLE
        .binary_search_by(|&(start, end)| {
            if end < c {
                std::cmp::Ordering::Less
            } else if start > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// NFKC with default-ignorable code points removed; case is kept (for display).
pub fn visible_nfkc(text: &str) -> String {
    text.nfkc().filter(|c| !is_default_ignorable(*c)).collect()
}

/// The form identifiers are compared in: [`visible_nfkc`], lower-cased, NFKC again.
pub fn fold(text: &str) -> String {
    visible_nfkc(text).to_lowercase().nfkc().collect()
}

/// Whether the text is empty to the eye: only whitespace and default-ignorables.
pub fn is_blank(text: &str) -> bool {
    text.chars()
        .all(|c| c.is_whitespace() || is_default_ignorable(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_and_disjoint() {
        for pair in DEFAULT_IGNORABLE.windows(2) {
            assert!(pair[0].0 <= pair[0].1 && pair[0].1 < pair[1].0, "{pair:?}");
        }
    }

    #[test]
    fn invisible_characters_are_ignorable_visible_ones_are_not() {
        for c in [
            '\u{200B}',
            '\u{200D}',
            '\u{FEFF}',
            '\u{00AD}',
            '\u{2060}',
            '\u{E0041}',
            '\u{FE0F}',
        ] {
            assert!(is_default_ignorable(c), "{:X}", u32::from(c));
        }
        for c in ['a', '@', '.', ' ', 'é', '\u{2070}', '\u{FFFD}', '\u{1D17B}'] {
            assert!(!is_default_ignorable(c), "{:X}", u32::from(c));
        }
    }

    #[test]
    fn look_alikes_fold_to_one_form() {
        let plain = fold("ann@example.com");
        assert_eq!(plain, "ann@example.com");
        for look_alike in [
            "Ann@Example.COM",
            "ann\u{200B}@example.com",
            "\u{FEFF}a\u{00AD}nn@exa\u{2060}mple.com",
            "ａｎｎ＠ｅｘａｍｐｌｅ．ｃｏｍ",
            "ＡＮＮ@example.com",
        ] {
            assert_eq!(fold(look_alike), plain, "{look_alike:?}");
        }
        assert_eq!(visible_nfkc("Ａnn\u{200B}@x.io"), "Ann@x.io");
    }

    #[test]
    fn blank_means_nothing_visible() {
        assert!(is_blank("        "));
        assert!(is_blank("\t\n \u{3000}\u{200B}\u{00A0}"));
        assert!(!is_blank("  a  "));
    }
}
