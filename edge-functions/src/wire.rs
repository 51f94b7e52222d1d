//! How the event model's structs meet the wire.
//!
//! CloudFront adds fields over time, and a function that returns the request must hand back the
//! fields it does not know, untouched. `#[serde(flatten)]` would do that, but it buffers the whole
//! struct before deserializing it, which doubles the parse cost and loses the path of an error
//! (`Records[0].cf.request.headers.host[0].value`). So each wire struct is declared through
//! [`wire_struct!`], which writes a streaming `Deserialize` that keeps unknown keys in `extra`,
//! and a `Serialize` that writes known fields in order, then `extra`, and never writes `null`.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, Visitor};

/// A map key, borrowed from the input where the input allows it.
pub(crate) struct WireKey<'de>(pub(crate) Cow<'de, str>);

impl<'de> de::Deserialize<'de> for WireKey<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = WireKey<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(WireKey(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(WireKey(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(WireKey(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// Declares a wire struct: camelCase names on the wire, unknown keys kept in `extra`.
///
/// Field kinds: `required` (missing → error), `default` (missing → `Default`, always written),
/// `optional` (an `Option`, written only when `Some`).
macro_rules! wire_struct {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* $wire:literal => $field:ident : $ty:ty [$kind:ident] ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Default)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty, )*
            /// Fields this model does not know, kept so that they survive a round trip.
            pub extra: serde_json::Map<String, serde_json::Value>,
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeMap;
                let mut map = serializer.serialize_map(None)?;
                $( wire_struct!(@ser map $kind $wire self.$field); )*
                for (key, value) in &self.extra {
                    if !value.is_null() {
                        map.serialize_entry(key, value)?;
                    }
                }
                map.end()
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct StructVisitor;
                impl<'de> serde::de::Visitor<'de> for StructVisitor {
                    type Value = $name;
                    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                        f.write_str(concat!("an object (", stringify!($name), ")"))
                    }
                    #[allow(unused_mut)]
                    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut access: A) -> Result<$name, A::Error> {
                        $( let mut $field: Option<$ty> = None; )*
                        let mut extra = serde_json::Map::new();
                        while let Some(key) = access.next_key::<$crate::wire::WireKey<'de>>()? {
                            match key.0.as_ref() {
                                $( $wire => {
                                    if $field.is_some() {
                                        return Err(serde::de::Error::duplicate_field($wire));
                                    }
                                    $field = Some(access.next_value()?);
                                } )*
                                _ => {
                                    let value: serde_json::Value = access.next_value()?;
                                    extra.insert(key.0.into_owned(), value);
                                }
                            }
                        }
                        Ok($name {
                            $( $field: wire_struct!(@finish $kind $wire $field), )*
                            extra,
                        })
                    }
                }
                deserializer.deserialize_map(StructVisitor)
            }
        }
    };

    (@ser $map:ident required $wire:literal $value:expr) => { $map.serialize_entry($wire, &$value)?; };
    (@ser $map:ident default $wire:literal $value:expr) => { $map.serialize_entry($wire, &$value)?; };
    (@ser $map:ident optional $wire:literal $value:expr) => {
        if let Some(value) = &$value { $map.serialize_entry($wire, value)?; }
    };
    (@finish required $wire:literal $field:ident) => {
        $field.ok_or_else(|| serde::de::Error::missing_field($wire))?
    };
    (@finish default $wire:literal $field:ident) => { $field.unwrap_or_default() };
    (@finish optional $wire:literal $field:ident) => { $field.unwrap_or(None) };
}

pub(crate) use wire_struct;
