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
//! rendered with, and joined with the new request's nonce. For browsers that take gzip, each
//! piece is also kept compressed, once, at the best level: a gzip answer is those pieces with the
//! nonce between them as uncompressed deflate blocks, and a checksum combined from the pieces'
//! own — no compression per request.
//!
//! Bounded by bytes (`--page-cache-mb`, 0 turns it off); least recently used pages go first.

use std::{
    io::Write as _,
    sync::{
        Arc, Mutex, OnceLock,
        atomic::{AtomicUsize, Ordering},
    },
};

use app::{
    PageNonce,
    api::{Caller, ShellInfo, catalog::CatalogView},
    port::{PageData, PortalHandle},
};
use axum::{
    body::{Body, Bytes},
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
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

/// (who, URL): the caller's identity and the page's path and query.
type Key = (String, String);

struct Kept {
    pages: LruCache<Key, Arc<Page>>,
    /// What the kept pages count against the budget: each page's [`Page::counted`].
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
    /// The pieces compressed, made at the first answer that asks for gzip.
    gzip: OnceLock<Option<Gzipped>>,
    /// Bytes this page counts against the budget: its pieces, and its compressed copy once made.
    /// Changed only under the lock of the [`Kept`] that holds the page.
    counted: AtomicUsize,
}

/// A kept page's pieces as raw deflate: every piece but the last ends on a byte boundary (a sync
/// flush) without ending the stream, so that a stored block holding the nonce can follow it; the
/// last one ends the stream.
struct Gzipped {
    deflated: Vec<Vec<u8>>,
    /// Each piece's CRC-32 and length, combined around the nonce's for the gzip trailer.
    checksums: Vec<flate2::Crc>,
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

    /// The compressed copy, and its size when this call made it (to be counted by its keeper).
    fn gzipped(&self) -> (Option<&Gzipped>, Option<usize>) {
        let mut made = None;
        let gzipped = self
            .gzip
            .get_or_init(|| {
                let gzipped = Gzipped::new(&self.pieces).ok();
                made = gzipped.as_ref().map(Gzipped::len);
                gzipped
            })
            .as_ref();
        (gzipped, made)
    }
}

impl Gzipped {
    fn len(&self) -> usize {
        self.deflated.iter().map(Vec::len).sum::<usize>() + self.checksums.len() * size_of::<flate2::Crc>()
    }

    fn new(pieces: &[Bytes]) -> std::io::Result<Self> {
        let mut deflated = Vec::with_capacity(pieces.len());
        let mut checksums = Vec::with_capacity(pieces.len());
        for (i, piece) in pieces.iter().enumerate() {
            let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
            encoder.write_all(piece)?;
            let raw = if i + 1 == pieces.len() {
                encoder.finish()?
            } else {
                // A sync flush: everything so far, byte-aligned, the stream left open.
                encoder.flush()?;
                std::mem::take(encoder.get_mut())
            };
            deflated.push(raw);
            let mut crc = flate2::Crc::new();
            crc.update(piece);
            checksums.push(crc);
        }
        Ok(Self { deflated, checksums })
    }

    /// A gzip member (RFC 1952) of the page joined with `nonce`.
    fn body(&self, nonce: &str) -> Vec<u8> {
        let nonce = nonce.as_bytes();
        let size = self.deflated.iter().map(Vec::len).sum::<usize>() + (nonce.len() + 5) * self.deflated.len() + 18;
        let mut body = Vec::with_capacity(size);
        // ID1 ID2, deflate, no flags, no time, no extra flags, unknown OS.
        body.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
        let mut nonce_crc = flate2::Crc::new();
        nonce_crc.update(nonce);
        let mut crc = flate2::Crc::new();
        for (i, (raw, piece_crc)) in self.deflated.iter().zip(&self.checksums).enumerate() {
            if i > 0 {
                // A stored block, not the last (RFC 1951 3.2.4): header byte, LEN, NLEN, bytes.
                let len = nonce.len() as u16;
                body.push(0);
                body.extend_from_slice(&len.to_le_bytes());
                body.extend_from_slice(&(!len).to_le_bytes());
                body.extend_from_slice(nonce);
                crc.combine(&nonce_crc);
            }
            body.extend_from_slice(raw);
            crc.combine(piece_crc);
        }
        body.extend_from_slice(&crc.sum().to_le_bytes());
        body.extend_from_slice(&crc.amount().to_le_bytes());
        body
    }
}

/// Whether the request's `Accept-Encoding` takes gzip (named, with a weight above zero).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(
        |coding| {
            let mut parts = coding.split(';');
            let named = parts.next().is_some_and(|name| name.trim().eq_ignore_ascii_case("gzip"));
            let refused = parts
                .any(|p| p.trim().strip_prefix("q=").is_some_and(|q| q.trim().parse::<f32>().is_ok_and(|q| q <= 0.0)));
            named && !refused
        },
    )
}

impl Kept {
    /// Keeps `page` under `key`, then drops least recently used pages until `budget` holds.
    fn insert(&mut self, key: Key, page: Arc<Page>, budget: usize) {
        let size = page.len();
        page.counted.store(size, Ordering::Relaxed);
        if let Some(old) = self.pages.insert(key, page) {
            self.bytes -= old.counted.load(Ordering::Relaxed);
        }
        self.bytes += size;
        self.trim(budget);
    }

    /// Counts `more` bytes made for `page` after it was kept (its compressed copy), if it is still
    /// the page kept under `key`.
    fn grow(&mut self, key: &Key, page: &Arc<Page>, more: usize, budget: usize) {
        if self.pages.peek(key).is_some_and(|kept| Arc::ptr_eq(kept, page)) {
            page.counted.fetch_add(more, Ordering::Relaxed);
            self.bytes += more;
            self.trim(budget);
        }
    }

    fn trim(&mut self, budget: usize) {
        while self.bytes > budget {
            match self.pages.remove_lru() {
                Some((_, old)) => self.bytes -= old.counted.load(Ordering::Relaxed),
                None => break,
            }
        }
    }
}

impl PageCache {
    pub fn new(portal: PortalHandle, budget_bytes: usize) -> Self {
        let kept = Kept { pages: LruCache::new_unbounded(), bytes: 0 };
        Self { portal, budget: budget_bytes, kept: Arc::new(Mutex::new(kept)) }
    }

    fn kept(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.kept.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lookup(&self, key: &Key, shell: &ShellInfo, catalog: &Arc<CatalogView>) -> Option<Arc<Page>> {
        let mut kept = self.kept();
        let page = kept.pages.get(key)?;
        (page.shell == *shell && Arc::ptr_eq(&page.catalog, catalog)).then(|| page.clone())
    }

    fn keep(&self, key: Key, page: Page) {
        if page.len() <= self.budget {
            self.kept().insert(key, Arc::new(page), self.budget);
        }
    }

    /// The kept page as an answer, compressed when the browser takes gzip; a compressed copy made
    /// for it is counted against the budget too.
    fn answer(&self, key: &Key, page: &Arc<Page>, nonce: &str, gzip: bool) -> Response {
        let gzipped = if gzip {
            let (gzipped, made) = page.gzipped();
            if let Some(more) = made {
                self.kept().grow(key, page, more, self.budget);
            }
            gzipped
        } else {
            None
        };
        answer(page, gzipped, nonce)
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
        return cache.answer(&key, &page, &nonce, accepts_gzip(request.headers()));
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
    let pieces = split(&bytes, &nonce);
    // Stored blocks carry at most 65,535 bytes: a nonce is 22.
    let page = (nonce.len() <= usize::from(u16::MAX)).then(|| Page {
        shell,
        catalog,
        status: parts.status,
        headers: parts.headers.clone(),
        pieces,
        gzip: OnceLock::new(),
        counted: AtomicUsize::new(0),
    });
    if let Some(page) = page {
        cache.keep(key, page);
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// Everything about the caller a page may depend on: who, and what they may see.
fn identity(caller: &Caller) -> String {
    format!(
        "{}\u{0}{}\u{0}{:?}\u{0}{:?}\u{0}{}\u{0}{:?}",
        caller.uid, caller.username, caller.groups, caller.namespaces, caller.platform_admin, caller.admin_of
    )
}

fn answer(page: &Page, gzipped: Option<&Gzipped>, nonce: &str) -> Response {
    let body = match gzipped {
        Some(gzipped) => gzipped.body(nonce),
        None => page.body(nonce),
    };
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = page.status;
    let headers = response.headers_mut();
    *headers = page.headers.clone();
    headers.remove(header::CONTENT_LENGTH);
    // Already encoded: the compression layer passes it on as it is.
    if gzipped.is_some() {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    headers.append(header::VARY, HeaderValue::from_static("accept-encoding"));
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
            gzip: OnceLock::new(),
            counted: AtomicUsize::new(0),
        };
        assert_eq!(
            String::from_utf8(page.body("other")).unwrap(),
            "<script nonce=\"other\">a</script><p>N0nc</p><script nonce=\"other\">"
        );
        assert_eq!(split(&Bytes::from_static(b"plain"), "N0nce").len(), 1);

        // Kept compressed, joined with a nonce: a gzip stream a decoder reads back to the same
        // page, checksum and length included.
        for nonce in ["other", "a-longer-nonce-value-0123456789"] {
            let gzip = page.gzipped().0.expect("compressed").body(nonce);
            let mut plain = String::new();
            std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gzip[..]), &mut plain).unwrap();
            assert_eq!(plain, String::from_utf8(page.body(nonce)).unwrap());
        }
    }

    fn page(html: String) -> Arc<Page> {
        Arc::new(Page {
            shell: ShellInfo::default(),
            catalog: Arc::new(CatalogView::new(vec![], vec![])),
            status: StatusCode::OK,
            headers: HeaderMap::new(),
            pieces: split(&Bytes::from(html), "N0nce"),
            gzip: OnceLock::new(),
            counted: AtomicUsize::new(0),
        })
    }

    #[test]
    fn a_compressed_copy_counts_against_the_budget() {
        let html = |seed: usize| {
            let items = (0..400).map(|i| format!("<li>{}</li>", i * 7919 + seed)).collect::<String>();
            format!("<script nonce=\"N0nce\"></script><ul>{items}</ul><script nonce=\"N0nce\"></script>")
        };
        let key = |name: &str| (name.to_owned(), "/catalog".to_owned());
        let mut kept = Kept { pages: LruCache::new_unbounded(), bytes: 0 };
        let (a, b) = (page(html(1)), page(html(2)));
        let budget = a.len() + b.len() + 64;
        kept.insert(key("a"), a.clone(), budget);
        kept.insert(key("b"), b.clone(), budget);
        assert_eq!(kept.bytes, a.len() + b.len());

        // b's compressed copy is made once, and counted: over the budget, a (used least recently) goes.
        let more = b.gzipped().1.expect("made by this call");
        assert!(more > 64, "{more}");
        assert_eq!(b.gzipped().1, None, "made once");
        kept.grow(&key("b"), &b, more, budget);
        assert_eq!(kept.bytes, b.len() + more);
        assert!(kept.pages.peek(&key("a")).is_none());

        // A page replaced gives back all it counted; a page no longer kept counts nothing.
        let c = page(html(3));
        kept.insert(key("b"), c.clone(), budget);
        assert_eq!(kept.bytes, c.len());
        kept.grow(&key("b"), &b, 10, budget);
        assert_eq!(kept.bytes, c.len());
    }

    #[test]
    fn a_large_page_compresses_around_its_nonces() {
        let nonce = "AbCdEfGhIjKlMnOpQrStUv";
        let tile = |i: usize| format!("<li class=\"tile\"><h3>service {i}</h3><p>a description of it</p></li>");
        let html = format!(
            "<html><script nonce=\"{nonce}\">x</script>{}<script nonce=\"{nonce}\">y</script></html>",
            (0..5000).map(tile).collect::<String>()
        );
        let pieces = split(&Bytes::from(html.clone()), nonce);
        let gzipped = Gzipped::new(&pieces).unwrap();
        let gzip = gzipped.body("ZyXwVuTsRqPoNmLkJiHgFe");
        assert!(gzip.len() < html.len() / 10, "{} of {}", gzip.len(), html.len());
        let mut plain = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gzip[..]), &mut plain).unwrap();
        assert_eq!(plain, html.replace(nonce, "ZyXwVuTsRqPoNmLkJiHgFe"));
    }

    #[test]
    fn gzip_is_taken_when_named_without_a_zero_weight() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(value).unwrap());
            accepts_gzip(&headers)
        };
        assert!(with("gzip, deflate, br, zstd"));
        assert!(with("br;q=1.0, GZIP;q=0.5"));
        assert!(!with("gzip;q=0"));
        assert!(!with("gzip; q=0.000, br"));
        assert!(!with("identity"));
        assert!(!with("x-gzip-ish"));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }
}
