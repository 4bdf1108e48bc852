//! JSON fields read without failing the whole body. Clients send ids as numbers or strings,
//! booleans as `true` or `"true"`, and sometimes plain nonsense; a dialect must still answer in
//! its own error shape, naming the field. So every wire field is a [`Field`]: absent, a value of
//! an acceptable shape, or present but unusable. Only a body that is not JSON at all fails.

use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{
    self, Deserialize, DeserializeOwned, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor,
};

/// A field of a wire body. `null` counts as absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Field<T> {
    #[default]
    Missing,
    Present(T),
    /// Present, but of a shape the field cannot take.
    Invalid,
}

impl<T> Field<T> {
    /// The value, or `missing` / `invalid` when there is none.
    pub fn require<E>(self, missing: E, invalid: E) -> Result<T, E> {
        match self {
            Field::Present(v) => Ok(v),
            Field::Missing => Err(missing),
            Field::Invalid => Err(invalid),
        }
    }

    /// The value if present, none if absent, `invalid` otherwise.
    pub fn optional<E>(self, invalid: E) -> Result<Option<T>, E> {
        match self {
            Field::Present(v) => Ok(Some(v)),
            Field::Missing => Ok(None),
            Field::Invalid => Err(invalid),
        }
    }
}

/// What JSON shapes a field type accepts. Each method returns `None` for "not this shape".
pub trait Lenient: Sized {
    fn from_str(_: &str) -> Option<Self> {
        None
    }
    fn from_u64(_: u64) -> Option<Self> {
        None
    }
    fn from_i64(_: i64) -> Option<Self> {
        None
    }
    fn from_f64(_: f64) -> Option<Self> {
        None
    }
    fn from_bool(_: bool) -> Option<Self> {
        None
    }
    fn from_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<Option<Self>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}

impl<'de, T: Lenient> Deserialize<'de> for Field<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(FieldVisitor(PhantomData))
    }
}

struct FieldVisitor<T>(PhantomData<T>);

fn field<T>(v: Option<T>) -> Field<T> {
    v.map_or(Field::Invalid, Field::Present)
}

impl<'de, T: Lenient> Visitor<'de> for FieldVisitor<T> {
    type Value = Field<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(field(T::from_str(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(field(T::from_u64(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(field(T::from_i64(v)))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(field(T::from_f64(v)))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(field(T::from_bool(v)))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Field::Missing)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Field::Missing)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Field::Invalid)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        Ok(field(T::from_map(map)?))
    }
}

/// A string field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text(pub String);

impl Lenient for Text {
    fn from_str(s: &str) -> Option<Self> {
        Some(Text(s.to_owned()))
    }
}

/// A string field that holds a secret (an API key, a password): `Debug` never shows it, so a
/// wire struct can be logged or printed in a test failure without leaking one.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretText(pub String);

impl Lenient for SecretText {
    fn from_str(s: &str) -> Option<Self> {
        Some(SecretText(s.to_owned()))
    }
}

impl fmt::Debug for SecretText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretText(<redacted>)")
    }
}

/// A free-text field that clients fill with strings or numbers (capsolver's integer `code`,
/// uCaptcha's string `code`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loose(pub String);

impl Lenient for Loose {
    fn from_str(s: &str) -> Option<Self> {
        Some(Loose(s.to_owned()))
    }
    fn from_u64(n: u64) -> Option<Self> {
        Some(Loose(n.to_string()))
    }
    fn from_i64(n: i64) -> Option<Self> {
        Some(Loose(n.to_string()))
    }
    fn from_f64(n: f64) -> Option<Self> {
        Some(Loose(n.to_string()))
    }
    fn from_bool(b: bool) -> Option<Self> {
        Some(Loose(b.to_string()))
    }
}

/// A task id as a dialect carries it: a JSON number (anti-captcha, 2captcha) or a string
/// (capsolver, uCaptcha, clones that quote numbers). Negative or fractional numbers are not ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawId {
    Number(u64),
    Text(String),
}

impl Lenient for RawId {
    fn from_str(s: &str) -> Option<Self> {
        Some(RawId::Text(s.to_owned()))
    }
    fn from_u64(n: u64) -> Option<Self> {
        Some(RawId::Number(n))
    }
    fn from_f64(n: f64) -> Option<Self> {
        // 12345.0 from a client that does all arithmetic in doubles; only exact integers.
        const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
        (n.fract() == 0.0 && (0.0..EXACT).contains(&n)).then_some(RawId::Number(n as u64))
    }
}

/// A boolean; also `"true"`/`"false"` and `1`/`0`, which loosely typed clients send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flag(pub bool);

impl Lenient for Flag {
    fn from_bool(b: bool) -> Option<Self> {
        Some(Flag(b))
    }
    fn from_str(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" => Some(Flag(true)),
            "false" | "0" => Some(Flag(false)),
            _ => None,
        }
    }
    fn from_u64(n: u64) -> Option<Self> {
        match n {
            0 => Some(Flag(false)),
            1 => Some(Flag(true)),
            _ => None,
        }
    }
}

/// A nested JSON object whose own fields are lenient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object<T>(pub T);

impl<T: DeserializeOwned> Lenient for Object<T> {
    fn from_map<'de, A: MapAccess<'de>>(map: A) -> Result<Option<Self>, A::Error> {
        // `T`'s fields are themselves `Field`s, so this only fails on malformed JSON.
        let value: serde_json::Value = Deserialize::deserialize(MapAccessDeserializer::new(map))?;
        Ok(serde_json::from_value(value).ok().map(Object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    struct Body {
        #[serde(default)]
        id: Field<RawId>,
        #[serde(default)]
        key: Field<Text>,
        #[serde(default)]
        flag: Field<Flag>,
        #[serde(default)]
        inner: Field<Object<Inner>>,
    }

    #[derive(Debug, Deserialize)]
    struct Inner {
        #[serde(default)]
        code: Field<Loose>,
    }

    fn parse(json: &str) -> Body {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn ids_come_as_numbers_strings_or_exact_doubles() {
        assert_eq!(
            parse(r#"{"id":74455221488}"#).id,
            Field::Present(RawId::Number(74_455_221_488))
        );
        assert_eq!(
            parse(r#"{"id":"abc"}"#).id,
            Field::Present(RawId::Text("abc".into()))
        );
        assert_eq!(
            parse(r#"{"id":12345.0}"#).id,
            Field::Present(RawId::Number(12_345))
        );
        assert_eq!(parse(r#"{"id":1.5}"#).id, Field::Invalid);
        assert_eq!(parse(r#"{"id":-3}"#).id, Field::Invalid);
        assert_eq!(parse(r#"{"id":[1]}"#).id, Field::Invalid);
        assert_eq!(parse(r#"{"id":null}"#).id, Field::Missing);
        assert_eq!(parse(r#"{}"#).id, Field::Missing);
    }

    #[test]
    fn wrong_shapes_are_invalid_not_errors() {
        let b = parse(r#"{"key":17,"flag":"maybe","inner":"x","extra":{"deep":[1,2]}}"#);
        assert_eq!(b.key, Field::Invalid);
        assert_eq!(b.flag, Field::Invalid);
        assert!(matches!(b.inner, Field::Invalid));
    }

    #[test]
    fn loosely_typed_booleans_and_codes_are_accepted() {
        let b = parse(r#"{"flag":"true","inner":{"code":1001}}"#);
        assert_eq!(b.flag, Field::Present(Flag(true)));
        let Field::Present(Object(inner)) = b.inner else {
            panic!()
        };
        assert_eq!(inner.code, Field::Present(Loose("1001".into())));
    }
}

#[cfg(test)]
mod secret_tests {
    use super::{Field, SecretText};

    #[test]
    fn a_secret_field_never_shows_its_value() {
        #[derive(Debug, serde::Deserialize)]
        struct Body {
            #[serde(rename = "clientKey")]
            client_key: Field<SecretText>,
        }
        let body: Body = serde_json::from_str(r#"{"clientKey": "0f1e2d3c4b5a6978"}"#).unwrap();
        assert!(
            matches!(&body.client_key, Field::Present(SecretText(k)) if k == "0f1e2d3c4b5a6978")
        );
        assert!(!format!("{body:?}").contains("0f1e2d3c"));
    }
}
