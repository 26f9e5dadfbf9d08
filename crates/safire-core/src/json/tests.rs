use super::*;

#[test]
fn accepts_objects_only() {
    assert!(parse_object(br#"{}"#).is_some());
    assert!(parse_object(b" \n{\"a\":1}\n ").is_some());
    let unusable = unusable_bodies();
    let others = [&b"   "[..], b"\"str\"", b"true", b"{\"a\":}"];
    let html = b"<html><body>500</body></html>";
    for bad in unusable
        .iter()
        .map(Vec::as_slice)
        .chain(others)
        .chain([&html[..]])
    {
        assert!(
            parse_object(bad).is_none(),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
}

/// What `parse_object` promises: `serde_json::from_slice` after one byte order mark, objects
/// only.
fn reference(body: &[u8]) -> Option<Map<String, Value>> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    }
}

fn check_same(body: &[u8]) {
    assert_eq!(
        parse_object(body),
        reference(body),
        "{:?}",
        String::from_utf8_lossy(body)
    );
}

#[test]
fn property_same_as_serde_json() {
    let mut g = testgen::Gen::new(11);
    for _ in 0..5000 {
        let mut body = g.body(&["access_token", "scope"]);
        if g.next().is_multiple_of(4) {
            body.splice(0..0, b"\xEF\xBB\xBF".iter().copied());
        }
        check_same(&body);
    }
    for depth in (60..=68).chain(124..=130) {
        for (open, close) in [("[", "]"), ("{\"k\":", "}")] {
            let inner = format!("{}1{}", open.repeat(depth), close.repeat(depth));
            check_same(format!("{{\"scope\":{inner}}}").as_bytes());
            check_same(format!("{{\"x\":{inner}}}").as_bytes());
            check_same(format!("{{\"x\":[\"]\",{inner}]}}").as_bytes());
            check_same(format!("{{\"x\":{inner}").as_bytes());
            check_same(format!("{inner} {{}}").as_bytes());
        }
        let arrays = format!("{{\"a\":{}{}}}", "[".repeat(depth), "]".repeat(depth));
        check_same(arrays.as_bytes());
    }
    for body in [
        &br#"{"scope":null,"scope":"a","x":1,"x":{"y":[]}}"#[..],
        br#"{"sc\u006fpe":"escaped key","access_token":"t"}"#,
        b"{\"a\":1} x",
        b"{\"a\":1}\n\t ",
        b"\xEF\xBB\xBF\xEF\xBB\xBF{}",
        b"{\"a\":-0,\"b\":-0.0,\"c\":1e-400,\"d\":18446744073709551616}",
    ] {
        check_same(body);
    }
}

/// serde_json's own recursion limit bounds nesting: the top-level object and 126 arrays
/// inside it are fine, one more is refused.
#[test]
fn depth_limit_is_serde_jsons() {
    let ok = format!("{{\"a\":{}{}}}", "[".repeat(126), "]".repeat(126));
    assert!(parse_object(ok.as_bytes()).is_some());
    let deep = format!("{{\"a\":{}{}}}", "[".repeat(127), "]".repeat(127));
    assert!(parse_object(deep.as_bytes()).is_none());
    let ok = format!("{}{}{}", "{\"a\":".repeat(126), "{}", "}".repeat(126));
    assert!(parse_object(ok.as_bytes()).is_some());
    let deep = format!("{}{}{}", "{\"a\":".repeat(127), "{}", "}".repeat(127));
    assert!(parse_object(deep.as_bytes()).is_none());
}

/// Hostile nesting is refused without overflowing the stack (a test thread has a 2 MiB stack,
/// less than a transport's worker threads usually get).
#[test]
fn deep_nesting_refused_without_panic() {
    for n in [10_000, 100_000] {
        for body in [
            "[".repeat(n),
            format!("{{\"a\":{}", "[".repeat(n)),
            format!("{{\"a\":{}{}}}", "[".repeat(n), "]".repeat(n)),
            "{\"a\":".repeat(n),
        ] {
            assert!(parse_object(body.as_bytes()).is_none());
            assert!(from_body::<Value>(body.as_bytes()).is_none());
        }
    }
    // Brackets inside strings do not count.
    let in_string = format!("{{\"a\":\"{}\"}}", "[".repeat(100_000));
    assert!(parse_object(in_string.as_bytes()).is_some());
    let escaped = format!("{{\"a\":\"\\\"{}\"}}", "[".repeat(100));
    assert!(parse_object(escaped.as_bytes()).is_some());
}

#[test]
fn skips_bom() {
    assert!(parse_object(b"\xEF\xBB\xBF{\"a\":1}").is_some());
}

#[test]
fn hostile_scalars() {
    assert!(parse_object(b"{\"a\":1e400}").is_none());
    assert!(parse_object(b"{\"a\":-1e400}").is_none());
    let big = parse_object(b"{\"a\":123456789012345678901234567890}").unwrap();
    assert!(big["a"].is_f64());
    assert!(parse_object(b"{\"a\":\"\xff\xfe\"}").is_none());
    assert!(parse_object(b"{\"a\":\"\\ud800\"}").is_none());
    assert!(parse_object(b"{\"a\":NaN}").is_none());
}

#[test]
fn duplicate_keys_keep_last() {
    let obj = parse_object(br#"{"a":1,"a":2}"#).unwrap();
    assert_eq!(obj["a"], 2);
}

#[test]
fn field_names_are_sorted_cleaned_and_capped() {
    let obj = parse_object(b"{\"z\":1,\"a\\nb\":2}").unwrap();
    assert_eq!(field_names(&obj), ["a b", "z"]);
    let many: Map<String, Value> = (0..1000)
        .map(|i| (format!("k{i:04}"), Value::Null))
        .collect();
    assert_eq!(field_names(&many).len(), MAX_FIELD_NAMES);
    assert_eq!(names(vec!["b", "a\u{7}"]), ["a ", "b"]);
}
