//! Forward keyset pagination over UUID v7 ids (time-ordered, so "after" is stable while
//! rows are added). Cursors are encoded at the API edge; here they are plain ids.

use uuid::Uuid;

#[derive(Debug, Clone, Copy)]
pub struct PageRequest {
    pub first: u64,
    pub after: Option<Uuid>,
}

#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub has_next_page: bool,
}

impl<T> Page<T> {
    /// `rows` were fetched with `limit(first + 1)`: the extra row only says there is more.
    pub fn from_rows(mut rows: Vec<T>, first: u64) -> Self {
        let has_next_page = rows.len() as u64 > first;
        rows.truncate(first as usize);
        Page {
            items: rows,
            has_next_page,
        }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            has_next_page: self.has_next_page,
        }
    }
}
