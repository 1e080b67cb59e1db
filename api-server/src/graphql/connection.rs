//! Relay connections: `first`/`after` arguments, opaque cursors and the page-size cap.

use async_graphql::connection::{Connection, Edge};
use async_graphql::{OutputType, connection::CursorType};
use base64::Engine;
use domain::pagination::{Page, PageRequest};
use uuid::Uuid;

use super::error::bad_input;

pub const DEFAULT_PAGE_SIZE: i32 = 20;
const CURSOR_TAG: &str = "c1:";

pub fn encode_cursor(id: Uuid) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{CURSOR_TAG}{id}"))
}

pub fn decode_cursor(cursor: &str) -> async_graphql::Result<Uuid> {
    let invalid = || bad_input("after: not a cursor from this API");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let id = text.strip_prefix(CURSOR_TAG).ok_or_else(invalid)?;
    Uuid::parse_str(id).map_err(|_| invalid())
}

/// `first` (default 20) within 0..=max.
pub fn page_size(first: Option<i32>, max: u64) -> async_graphql::Result<u64> {
    let first = first.unwrap_or(DEFAULT_PAGE_SIZE);
    if first < 0 || first as u64 > max {
        return Err(bad_input(format!("first: must be between 0 and {max}")));
    }
    Ok(first as u64)
}

/// Validates `first` and decodes `after`.
pub fn page_request(
    first: Option<i32>,
    after: Option<String>,
    max: u64,
) -> async_graphql::Result<PageRequest> {
    Ok(PageRequest {
        first: page_size(first, max)?,
        after: after.as_deref().map(decode_cursor).transpose()?,
    })
}

/// An edge's cursor: the node's id, encoded only when a client selects `cursor` (or a
/// `pageInfo` cursor), not for every edge of every page.
pub struct IdCursor(pub Uuid);

impl CursorType for IdCursor {
    type Error = String;

    fn decode_cursor(s: &str) -> Result<Self, Self::Error> {
        decode_cursor(s).map(IdCursor).map_err(|e| e.message)
    }

    fn encode_cursor(&self) -> String {
        encode_cursor(self.0)
    }
}

/// Builds a connection from a page, the cursor of each node being its id.
pub fn connection<T, N>(
    page: Page<T>,
    id_of: impl Fn(&T) -> Uuid,
    node: impl Fn(T) -> N,
) -> Connection<IdCursor, N>
where
    N: OutputType,
{
    let mut c = Connection::new(false, page.has_next_page);
    c.edges.extend(
        page.items
            .into_iter()
            .map(|item| Edge::new(IdCursor(id_of(&item)), node(item))),
    );
    c
}
