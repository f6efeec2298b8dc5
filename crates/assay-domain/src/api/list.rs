//! Cursor pagination shared by every list endpoint.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One page of a list: `{"object":"list","data":[…],"has_more":…,"first_id":…,"last_id":…}`.
/// Pass `last_id` as `after` to read the next page.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ListObject<T> {
    /// Always `list`.
    pub object: String,
    pub data: Vec<T>,
    /// Whether more items follow the last one on this page.
    pub has_more: bool,
    /// Id of the first item on this page (absent on an empty page).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_id: Option<String>,
    /// Id of the last item on this page; the cursor for the next page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_id: Option<String>,
}

/// Items that can be addressed by id in a cursor.
pub trait HasId {
    fn id(&self) -> &str;
}

impl<T: HasId> ListObject<T> {
    /// Wraps a page of items read with one extra row to know whether more follow.
    pub fn new(data: Vec<T>, has_more: bool) -> Self {
        let first_id = data.first().map(|x| x.id().to_string());
        let last_id = data.last().map(|x| x.id().to_string());
        Self {
            object: "list".into(),
            data,
            has_more,
            first_id,
            last_id,
        }
    }
}

/// A validated page request: items strictly after `after`, at most `limit` of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub after: Option<String>,
    pub limit: i64,
}

/// Sort direction by creation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    Asc,
    #[default]
    Desc,
}
