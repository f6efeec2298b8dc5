//! Merge-patch fields: absent (leave unchanged), `null` (clear) or a value (set).

use serde::{Deserialize, Deserializer};

use crate::error::ValidationError;

/// One field of a merge-patch body. Declare it with `#[serde(default)]` so a missing key is
/// [`Patch::Absent`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Patch<T> {
    /// The key was not sent: keep the stored value.
    #[default]
    Absent,
    /// The key was sent as `null`: clear the stored value.
    Null,
    /// The key was sent with a value.
    Set(T),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Patch<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Option::<T>::deserialize(d)? {
            None => Patch::Null,
            Some(v) => Patch::Set(v),
        })
    }
}

impl<T> Patch<T> {
    /// Whether the key was sent at all.
    pub fn is_present(&self) -> bool {
        !matches!(self, Patch::Absent)
    }

    /// The value sent, if any.
    pub fn as_set(&self) -> Option<&T> {
        match self {
            Patch::Set(v) => Some(v),
            _ => None,
        }
    }

    /// The stored value after applying the patch to `current`.
    pub fn apply(self, current: Option<T>) -> Option<T> {
        match self {
            Patch::Absent => current,
            Patch::Null => None,
            Patch::Set(v) => Some(v),
        }
    }

    /// For a field that cannot be cleared: `null` is refused at `path`; otherwise the value
    /// sent, if any.
    pub fn non_null(self, path: &str) -> Result<Option<T>, ValidationError> {
        match self {
            Patch::Absent => Ok(None),
            Patch::Null => Err(ValidationError::new(path, "cannot be null")),
            Patch::Set(v) => Ok(Some(v)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Body {
        #[serde(default)]
        a: Patch<i64>,
    }

    #[test]
    fn absent_null_and_set_are_told_apart() {
        let absent: Body = serde_json::from_str("{}").unwrap();
        let null: Body = serde_json::from_str(r#"{"a": null}"#).unwrap();
        let set: Body = serde_json::from_str(r#"{"a": 3}"#).unwrap();
        assert_eq!(absent.a, Patch::Absent);
        assert_eq!(null.a, Patch::Null);
        assert_eq!(set.a, Patch::Set(3));
        assert_eq!(Patch::Absent.apply(Some(1)), Some(1));
        assert_eq!(Patch::<i64>::Null.apply(Some(1)), None);
        assert!(Patch::<i64>::Null.non_null("a").is_err());
    }
}
