//! Server-rendered catalog pages, kept for reuse.
//!
//! The catalog page is a function of the URL, the caller and two pieces of data: the frame's
//! ([`ShellInfo`]: name and navigation counts) and the catalog this caller sees (one shared
//! `Arc<CatalogView>`, rebuilt when the catalog or the visibility rules change). This layer reads
//! that data first, hands it to the render through the request's extensions ([`PageData`]: the
//! render's server functions answer from it, so the page shows exactly it), and keeps the
//! rendered page per (user, URL) together with the data it came from. The next request for the
//! same page by the same user is answered from the kept copy only while the data it reads is
//! still that data — the same catalog view (pointer-equal: the kept copy holds it, so the address
//! cannot be reused) and equal navigation counts; any change renders afresh. Nothing is kept
//! across a change the page would show, so this never shows stale data.
//!
//! Each answer carries its own CSP nonce: the kept copy is stored split at the nonce it was
//! rendered with, and joined with the new request's nonce.
//!
//! Bounded by bytes (`--page-cache-mb`, 0 turns it off); least recently used pages go first.

use std::sync::{Arc, Mutex};

use app::{
    PageNonce,
    api::{Caller, ShellInfo, catalog::CatalogView},
    port::{PageData, PortalHandle},
};
use axum::{
    body::{Body, Bytes},
    extract::{Request, State},
    http::{HeaderMap, Method, StatusCode, header},
    middleware::Next,
    response::Response,
};
use futures::StreamExt as _;
use hashlink::LruCache;

use crate::metrics::METRICS;

/// The pages this layer keeps: only the catalog, the page every visit starts from.
const CACHED_PATH: &str = "/catalog";

/// A rendered page larger than this, or than a quarter of the budget, is passed on as it comes,
/// not kept (500 tiles at `?all=1` are about 550 KB).
const MAX_PAGE_BYTES: usize = 4 * 1024 * 1024;

#[derive(Clone)]
pub struct PageCache {
    portal: PortalHandle,
    /// Bytes of pages kept at most; 0 keeps none.
    budget: usize,
    kept: Arc<Mutex<Kept>>,
}

struct Kept {
    pages: LruCache<(String, String), Arc<Page>>,
    bytes: usize,
}

/// A rendered page and the data it was rendered from.
struct Page {
    shell: ShellInfo,
    catalog: Arc<CatalogView>,
    status: StatusCode,
    headers: HeaderMap,
    /// The body, split where the render's nonce stood.
    pieces: Vec<Bytes>,
}

impl Page {
    fn len(&self) -> usize {
        self.pieces.iter().map(Bytes::len).sum()
    }

    fn body(&self, nonce: &str) -> Vec<u8> {
        let mut body = Vec::with_capacity(self.len() + nonce.len() * self.pieces.len());
        for (i, piece) in self.pieces.iter().enumerate() {
            if i > 0 {
                body.extend_from_slice(nonce.as_bytes());
            }
            body.extend_from_slice(piece);
        }
        body
    }
}

impl PageCache {
    pub fn new(portal: PortalHandle, budget_bytes: usize) -> Self {
        let kept = Kept { pages: LruCache::new_unbounded(), bytes: 0 };
        Self { portal, budget: budget_bytes, kept: Arc::new(Mutex::new(kept)) }
    }

    fn lookup(&self, key: &(String, String), shell: &ShellInfo, catalog: &Arc<CatalogView>) -> Option<Arc<Page>> {
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        let page = kept.pages.get(key)?;
        (page.shell == *shell && Arc::ptr_eq(&page.catalog, catalog)).then(|| page.clone())
    }

    fn keep(&self, key: (String, String), page: Page) {
        let size = page.len();
        if size > self.budget {
            return;
        }
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(old) = kept.pages.insert(key, Arc::new(page)) {
            kept.bytes -= old.len();
        }
        kept.bytes += size;
        while kept.bytes > self.budget {
            match kept.pages.remove_lru() {
                Some((_, old)) => kept.bytes -= old.len(),
                None => break,
            }
        }
    }
}

/// The middleware: answers a signed-in `GET /catalog` from a kept page when its data is
/// unchanged, renders (and keeps) it otherwise. Every other request passes through untouched.
pub async fn serve(State(cache): State<PageCache>, mut request: Request, next: Next) -> Response {
    if request.method() != Method::GET || request.uri().path() != CACHED_PATH || cache.budget == 0 {
        return next.run(request).await;
    }
    let (Some(caller), Some(PageNonce(nonce))) =
        (request.extensions().get::<Caller>().cloned(), request.extensions().get::<PageNonce>().cloned())
    else {
        return next.run(request).await;
    };
    // What the render would read; on an error the render itself reads (and reports) it.
    let Ok((shell, catalog)) = cache.portal.shell_and_catalog(&caller).await else {
        return next.run(request).await;
    };
    let key = (identity(&caller), request.uri().to_string());
    if let Some(page) = cache.lookup(&key, &shell, &catalog) {
        METRICS.page_cache.with_label_values(&["kept"]).inc();
        return answer(&page, &nonce);
    }
    METRICS.page_cache.with_label_values(&["rendered"]).inc();
    request.extensions_mut().insert(PageData { shell: shell.clone(), catalog: catalog.clone() });
    let response = next.run(request).await;
    let (parts, body) = response.into_parts();
    let is_page = parts.status == StatusCode::OK
        && parts.headers.get(header::CONTENT_TYPE).is_some_and(|t| t.as_bytes().starts_with(b"text/html"))
        && !parts.headers.contains_key(header::SET_COOKIE);
    if !is_page {
        return Response::from_parts(parts, body);
    }
    // Read whole to be kept; a page too large to keep is passed on as it comes.
    let mut chunks = Vec::new();
    let mut size = 0;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(chunk) => {
                size += chunk.len();
                chunks.push(chunk);
            }
            Err(e) => {
                tracing::warn!(error = %e, "rendering the catalog page failed midway");
                let mut failed = Response::new(Body::from("the page could not be rendered; reload to try again"));
                *failed.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                return failed;
            }
        }
        if size > (cache.budget / 4).min(MAX_PAGE_BYTES) {
            let head = futures::stream::iter(chunks.into_iter().map(Ok::<_, axum::Error>));
            return Response::from_parts(parts, Body::from_stream(head.chain(stream)));
        }
    }
    let bytes = Bytes::from(chunks.concat());
    let page =
        Page { shell, catalog, status: parts.status, headers: parts.headers.clone(), pieces: split(&bytes, &nonce) };
    cache.keep(key, page);
    Response::from_parts(parts, Body::from(bytes))
}

/// Everything about the caller a page may depend on: who, and what they may see.
fn identity(caller: &Caller) -> String {
    format!(
        "{}\u{0}{}\u{0}{:?}\u{0}{:?}\u{0}{}\u{0}{:?}",
        caller.uid, caller.username, caller.groups, caller.namespaces, caller.platform_admin, caller.admin_of
    )
}

fn answer(page: &Page, nonce: &str) -> Response {
    let mut response = Response::new(Body::from(page.body(nonce)));
    *response.status_mut() = page.status;
    *response.headers_mut() = page.headers.clone();
    response.headers_mut().remove(header::CONTENT_LENGTH);
    response
}

/// `body` split at every occurrence of `nonce` (a random 128-bit value: it occurs nowhere else).
fn split(body: &Bytes, nonce: &str) -> Vec<Bytes> {
    let mut pieces = Vec::new();
    let mut start = 0;
    for at in memchr::memmem::find_iter(body, nonce.as_bytes()) {
        pieces.push(body.slice(start..at));
        start = at + nonce.len();
    }
    pieces.push(body.slice(start..));
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_is_split_at_its_nonce_and_joined_with_another() {
        let body = Bytes::from_static(b"<script nonce=\"N0nce\">a</script><p>N0nc</p><script nonce=\"N0nce\">");
        let pieces = split(&body, "N0nce");
        assert_eq!(pieces.len(), 3);
        let page = Page {
            shell: ShellInfo::default(),
            catalog: Arc::new(CatalogView::new(vec![], vec![])),
            status: StatusCode::OK,
            headers: HeaderMap::new(),
            pieces,
        };
        assert_eq!(
            String::from_utf8(page.body("other")).unwrap(),
            "<script nonce=\"other\">a</script><p>N0nc</p><script nonce=\"other\">"
        );
        assert_eq!(split(&Bytes::from_static(b"plain"), "N0nce").len(), 1);
    }
}
