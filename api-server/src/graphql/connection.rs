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

/// Builds a connection from a page, the cursor of each node being its id.
pub fn connection<T, N>(
    page: Page<T>,
    id_of: impl Fn(&T) -> Uuid,
    node: impl Fn(T) -> N,
) -> Connection<String, N>
where
    N: OutputType,
    String: CursorType,
{
    let mut c = Connection::new(false, page.has_next_page);
    c.edges.extend(
        page.items
            .into_iter()
            .map(|item| Edge::new(encode_cursor(id_of(&item)), node(item))),
    );
    c
}
