//! Paging for list calls: the token is the position of the next item in the listing's
//! (stable) order, so a page is one slice.

use mirage_proto::v1;
use tonic::Status;

use super::status;

/// Items per page when the caller asks for none.
pub const DEFAULT_PAGE: usize = 100;
/// The most items one page holds.
pub const MAX_PAGE: usize = 1000;

/// One page of `items` for `page`, with the next page's token (empty on the last page).
pub fn page<T>(items: Vec<T>, page: Option<&v1::PageRequest>) -> Result<(Vec<T>, String), Status> {
    let (size, token) = page.map_or((0, ""), |p| (p.page_size, p.page_token.as_str()));
    let size = match size {
        0 => DEFAULT_PAGE,
        n => usize::try_from(n).unwrap_or(MAX_PAGE).min(MAX_PAGE),
    };
    let start: usize = if token.is_empty() {
        0
    } else {
        token.parse().map_err(|_| {
            status::invalid(
                "page.page_token",
                "is not a token from a previous response; start again with an empty token",
            )
        })?
    };
    let total = items.len();
    let end = start.saturating_add(size).min(total);
    let next = if end < total {
        end.to_string()
    } else {
        String::new()
    };
    let items = items
        .into_iter()
        .skip(start)
        .take(end.saturating_sub(start))
        .collect();
    Ok((items, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_cover_every_item_once() {
        let items: Vec<u32> = (0..250).collect();
        let mut seen = Vec::new();
        let mut token = String::new();
        loop {
            let request = v1::PageRequest {
                page_size: 100,
                page_token: token.clone(),
            };
            let (items, next) = page(items.clone(), Some(&request)).expect("page");
            seen.extend(items);
            if next.is_empty() {
                break;
            }
            token = next;
        }
        assert_eq!(seen, (0..250).collect::<Vec<_>>());
        let bad = v1::PageRequest {
            page_size: 1,
            page_token: "abc".into(),
        };
        let refused = page(vec![1], Some(&bad)).expect_err("bad token");
        assert!(refused.message().contains("page.page_token"));
    }
}
