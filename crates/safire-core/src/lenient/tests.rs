use super::*;
use crate::json::from_body;
use serde_json::json;

#[test]
fn lenient_integers() {
    assert_eq!(lenient_u64(&json!(3600)), Ok(Int::Exact(3600)));
    assert_eq!(lenient_u64(&json!("3600")), Ok(Int::FromString(3600)));
    assert_eq!(lenient_u64(&json!(" 60 ")), Ok(Int::FromString(60)));
    assert_eq!(lenient_u64(&json!(3600.0)), Ok(Int::FromFloat(3600)));
    assert!(lenient_u64(&json!(-1)).is_err());
    assert!(lenient_u64(&json!(-1.0)).is_err());
    assert!(lenient_u64(&json!(1.5)).is_err());
    assert!(lenient_u64(&json!(1e300)).is_err());
    assert!(lenient_u64(&json!("+5")).is_err());
    assert!(lenient_u64(&json!("99999999999999999999999")).is_err());
    assert_eq!(lenient_u64(&json!(true)), Err("boolean"));
}

document! {
    /// A document with one member of each shared form.
    struct Sample {
        text: String,
        list: Vec<String>,
        count: Int,
        object: Map<String, Value>,
        anything: Value,
        renamed: String = "re-named",
    }
}

fn sample(body: &str) -> Sample {
    from_body(body.as_bytes()).unwrap()
}

/// What a form made of a value: `Ok(typed)` re-serialized, or `Err(as sent)`, or `None`.
fn outcome<T: Form>(member: Member<T>, typed: impl Fn(T) -> Value) -> Option<Result<Value, Value>> {
    match member.checked() {
        Ok(None) => None,
        Ok(Some(value)) => Some(Ok(typed(value))),
        Err(wrong) => Some(Err(wrong.value)),
    }
}

#[test]
fn each_form_types_its_shape_and_keeps_the_rest_as_sent() {
    let values = [
        json!(null),
        json!(true),
        json!(0),
        json!(-3),
        json!(2.5),
        json!(7.0),
        json!("s"),
        json!("12"),
        json!([]),
        json!(["a", "b"]),
        json!(["a", 1, null, {"k": [1]}]),
        json!({}),
        json!({"k": ["v", null]}),
    ];
    for value in values {
        let body = json!({
            "text": value, "list": value, "count": value, "object": value,
            "anything": value, "re-named": value,
        })
        .to_string();
        let s = sample(&body);
        assert!(s.extra.is_empty());
        assert_eq!(
            s.sent_names(),
            ["text", "list", "count", "object", "anything", "re-named"]
        );
        let expect = |ok: bool, typed: Value| {
            if value.is_null() {
                None
            } else if ok {
                Some(Ok(typed))
            } else {
                Some(Err(value.clone()))
            }
        };
        assert_eq!(
            outcome(s.text, Value::String),
            expect(value.is_string(), value.clone())
        );
        let strings = value
            .as_array()
            .is_some_and(|items| items.iter().all(Value::is_string));
        assert_eq!(
            outcome(s.list, |l| json!(l)),
            expect(strings, value.clone())
        );
        let count = lenient_u64(&value).ok().map(Int::value);
        assert_eq!(
            outcome(s.count, |n| json!(n.value())),
            expect(count.is_some(), json!(count))
        );
        assert_eq!(
            outcome(s.object, Value::Object),
            expect(value.is_object(), value.clone())
        );
        assert_eq!(outcome(s.anything, |v| v), expect(true, value.clone()));
        assert_eq!(
            outcome(s.renamed, Value::String),
            expect(value.is_string(), value.clone())
        );
    }
}

#[test]
fn unknown_members_duplicates_and_nulls() {
    let s = sample(
        r#"{"text":1,"text":"last","x":null,"x":{"y":[1]},"renamed":"unknown","list":["a"],"list":null}"#,
    );
    assert_eq!(s.text.value().map(String::as_str), Some("last"));
    assert!(s.list.is_sent() && s.list.is_missing());
    assert!(!s.count.is_sent() && s.count.is_missing());
    assert_eq!(s.sent_names(), ["text", "list", "renamed", "x"]);
    assert_eq!(
        Value::Object(s.extra),
        json!({"x": {"y": [1]}, "renamed": "unknown"})
    );
}

#[test]
fn keep_parks_wrong_values_under_their_name() {
    let s = sample(r#"{"text":5,"list":["a",2],"count":"9","x":1}"#);
    let mut extra = s.extra;
    assert_eq!(s.text.keep(&mut extra), None);
    assert_eq!(s.list.keep(&mut extra), None);
    assert_eq!(s.count.keep(&mut extra), Some(Int::FromString(9)));
    assert_eq!(
        Value::Object(extra),
        json!({"text": 5, "list": ["a", 2], "x": 1})
    );
    assert_eq!(
        Sample::FIELDS,
        [
            ("text", "a string"),
            ("list", "an array of strings"),
            ("count", "a non-negative integer"),
            ("object", "an object"),
            ("anything", "any JSON value"),
            ("re-named", "a string"),
        ]
    );
}

#[test]
fn reads_from_a_map_too() {
    let map = json!({"text": "t", "list": ["a", 1], "y": 2});
    let Value::Object(map) = map else {
        unreachable!()
    };
    let s = Sample::deserialize(map).unwrap();
    assert_eq!(s.text.value().map(String::as_str), Some("t"));
    assert!(s.list.value().is_none() && s.list.is_sent());
    assert_eq!(s.sent_names(), ["text", "list", "y"]);
}

#[test]
fn refuses_what_is_not_an_object() {
    for body in ["[]", "1", "\"s\"", "null", "{", "{}x", "{\"text\":1e999}"] {
        assert!(from_body::<Sample>(body.as_bytes()).is_none(), "{body}");
    }
    let deep = format!(
        "{{\"list\":{}{}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert!(from_body::<Sample>(deep.as_bytes()).is_none());
    let deep = format!("{{\"text\":{}", "{\"a\":".repeat(100_000));
    assert!(from_body::<Sample>(deep.as_bytes()).is_none());
}
