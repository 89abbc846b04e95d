//! The checkers themselves can fail: a hit with keys out of order, a highlight on the
//! wrong text, a snippet that is not a piece of the text.

use super::*;

const HIT: &str = r#"{"chat_id":1,"chat_name":"c","message_id":2,"actor":"user",
    "created_at":"2026-01-01T00:00:00.000001Z","snippet":"a Café here","highlights":[[2,6]]}"#;

fn body(hit: &str) -> String {
    format!(r#"{{"results":[{hit}],"next_cursor":null}}"#)
}

#[test]
fn a_good_page_passes() {
    let page = parse_page(Api::User, &body(HIT));
    assert_eq!(page.hits.len(), 1);
    assert_highlights_match(&page.hits[0], &["cafe"]);
    assert_highlights_match(&page.hits[0], &["caf*"]);
    assert_snippet_of(&page.hits[0], "say a Café here\tthen");
}

#[test]
#[should_panic(expected = "hit keys in order")]
fn keys_out_of_order_fail() {
    let swapped = HIT.replace(
        r#""chat_id":1,"chat_name":"c""#,
        r#""chat_name":"c","chat_id":1"#,
    );
    parse_page(Api::User, &body(&swapped));
}

#[test]
#[should_panic(expected = "top-level keys in order")]
fn the_wrong_list_key_fails() {
    parse_page(Api::Tenant, &body(HIT));
}

#[test]
#[should_panic(expected = "is none of")]
fn a_highlight_on_other_text_fails() {
    let page = parse_page(Api::User, &body(&HIT.replace("[[2,6]]", "[[1,5]]")));
    assert_highlights_match(&page.hits[0], &["cafe"]);
}

#[test]
#[should_panic(expected = "not a whole word")]
fn a_highlight_inside_a_word_fails() {
    let hit = HIT.replace("a Café here", "a Cafés here");
    let page = parse_page(Api::User, &body(&hit));
    assert_highlights_match(&page.hits[0], &["cafe"]);
}

#[test]
#[should_panic(expected = "a piece of the text")]
fn a_snippet_from_elsewhere_fails() {
    let page = parse_page(Api::User, &body(HIT));
    assert_snippet_of(&page.hits[0], "a Cafe here");
}

#[test]
#[should_panic(expected = "highlights sorted")]
fn unsorted_highlights_fail() {
    parse_page(Api::User, &body(&HIT.replace("[[2,6]]", "[[7,11],[2,6]]")));
}
