//! Server-rendered catalog pages, kept for reuse.
//!
//! The catalog page is a function of the URL, the caller and two pieces of data: the frame's
//! ([`ShellInfo`]: name and navigation counts) and the catalog this caller sees (one shared
//! `Arc<CatalogView>`, rebuilt when the catalog or the visibility rules change). This layer reads
//! that data first, hands it to the render through the request's extensions ([`PageData`]: the
//! render's server functions answer from it, so the page shows exactly it), and keeps the
//! rendered page together with the data it came from. The next request for the same page is
//! answered from the kept copy only while the data it reads is still that data — the same catalog
//! view (pointer-equal: the kept copy holds it, so the address cannot be reused) and equal
//! navigation counts; any change renders afresh. Nothing is kept across a change the page would
//! show, so this never shows stale data.
//!
//! **Shared by an audience.** Callers who may see the same things (the same groups, teams and
//! roles) see the same page but for their name. Such a page is rendered once for the audience, as
//! a caller who has nothing of anyone's but that (no user id, session, cookie, token, other
//! header or client address: see [`Plan::request`]; and
//! random markers for a name and its initial), kept under the audience, and answered to each
//! member with their own name and initial put where the markers stood. The render cannot show
//! one member's data to another: it never had any. Names put in this way are the portal's
//! usernames (letters, digits and `-_.@`), which read the same in HTML text, attributes and the
//! hydration data's JSON; a caller with any other name, or a page where a marker also stood in
//! another form, gets a page of their own, as below. Concurrent requests that would render the
//! same page wait for one render (at most [`RENDER_WAIT`]) instead of each rendering it.
//!
//! **Kept per caller** otherwise: rendered as that caller and kept under everything about them.
//!
//! Each answer carries its own CSP nonce: the kept copy is stored split at the nonce (and the
//! name's markers) it was rendered with, and joined with the new request's. For browsers that
//! take gzip, each piece is also kept compressed, once, at the best level: a gzip answer is those
//! pieces with the nonce and name between them as uncompressed deflate blocks, and a checksum
//! combined from the pieces' own — no compression per request.
//!
//! Bounded by bytes (`--page-cache-mb`, 0 turns it off); least recently used pages go first.

use std::{
    collections::HashMap,
    io::Write as _,
    sync::{
        Arc, Mutex, OnceLock,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use app::{
    PageNonce,
    api::{Caller, ShellInfo, catalog::CatalogView},
    port::{PageData, PortalHandle},
};
use axum::{
    body::{Body, Bytes},
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header, response},
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

/// How long a request waits for another's render of the same page before rendering it itself.
const RENDER_WAIT: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub struct PageCache {
    portal: PortalHandle,
    /// Bytes of pages kept at most; 0 keeps none.
    budget: usize,
    kept: Arc<Mutex<Kept>>,
    /// The renders under way, by key: one at a time per key.
    renders: Renders,
    /// What the name and initial markers of pages rendered for an audience start with: random per
    /// process, lower-case hex, so it occurs in no page by chance.
    marker: Arc<str>,
}

/// (whose, URL): an audience's or a caller's identity, and the page's path and query.
type Key = (String, String);

/// A lock per page being rendered; a key is forgotten when nobody holds or waits for its lock.
type Renders = Arc<Mutex<HashMap<Key, Arc<tokio::sync::Mutex<()>>>>>;

/// Where a kept page differs between answers: filled in for each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Hole {
    /// The answer's CSP nonce.
    Nonce,
    /// The caller's name, in a page kept for an audience.
    Name,
    /// Its initial (the account menu's badge).
    Initial,
}

/// What an answer puts into a kept page's holes.
struct Fill<'a> {
    nonce: &'a str,
    name: &'a str,
    initial: &'a str,
}

impl Fill<'_> {
    fn get(&self, hole: Hole) -> &str {
        match hole {
            Hole::Nonce => self.nonce,
            Hole::Name => self.name,
            Hole::Initial => self.initial,
        }
    }

    /// The longest value.
    fn most(&self) -> usize {
        self.nonce.len().max(self.name.len()).max(self.initial.len())
    }
}

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
    /// The body, split where the render's nonce (and name markers) stood.
    pieces: Vec<Bytes>,
    /// What stood between each piece and the next (one fewer than the pieces).
    holes: Vec<Hole>,
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

    fn body(&self, fill: &Fill) -> Vec<u8> {
        let mut body = Vec::with_capacity(self.len() + fill.most() * self.holes.len());
        for (i, piece) in self.pieces.iter().enumerate() {
            if i > 0 {
                body.extend_from_slice(fill.get(self.holes[i - 1]).as_bytes());
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

    /// A gzip member (RFC 1952) of the page with its `holes` filled. Each fill must be shorter
    /// than 65,536 bytes (a stored block's most).
    fn body(&self, holes: &[Hole], fill: &Fill) -> Vec<u8> {
        let size = self.deflated.iter().map(Vec::len).sum::<usize>() + (fill.most() + 5) * self.deflated.len() + 18;
        let mut body = Vec::with_capacity(size);
        // ID1 ID2, deflate, no flags, no time, no extra flags, unknown OS.
        body.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
        let mut crc = flate2::Crc::new();
        for (i, (raw, piece_crc)) in self.deflated.iter().zip(&self.checksums).enumerate() {
            if i > 0 {
                let text = fill.get(holes[i - 1]).as_bytes();
                // A stored block, not the last (RFC 1951 3.2.4): header byte, LEN, NLEN, bytes.
                let len = text.len() as u16;
                body.push(0);
                body.extend_from_slice(&len.to_le_bytes());
                body.extend_from_slice(&(!len).to_le_bytes());
                body.extend_from_slice(text);
                let mut text_crc = flate2::Crc::new();
                text_crc.update(text);
                crc.combine(&text_crc);
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
        let marker = format!("qm{:032x}", fastrand::u128(..)).into();
        let renders = Arc::default();
        Self { portal, budget: budget_bytes, kept: Arc::new(Mutex::new(kept)), renders, marker }
    }

    fn kept(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.kept.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lookup(&self, key: &Key, shell: &ShellInfo, catalog: &Arc<CatalogView>) -> Option<Arc<Page>> {
        let mut kept = self.kept();
        let page = kept.pages.get(key)?;
        (page.shell == *shell && Arc::ptr_eq(&page.catalog, catalog)).then(|| page.clone())
    }

    /// Keeps `page` when it fits the budget; the page, kept or not.
    fn keep(&self, key: &Key, page: Page) -> Arc<Page> {
        let page = Arc::new(page);
        if page.len() <= self.budget {
            self.kept().insert(key.clone(), page.clone(), self.budget);
        }
        page
    }

    /// The kept page as an answer, compressed when the browser takes gzip; a compressed copy made
    /// for it is counted against the budget too.
    fn answer(&self, key: &Key, page: &Arc<Page>, fill: &Fill, gzip: bool) -> Response {
        let gzipped = if gzip {
            let (gzipped, made) = page.gzipped();
            if let Some(more) = made {
                self.kept().grow(key, page, more, self.budget);
            }
            gzipped
        } else {
            None
        };
        answer(page, gzipped, fill)
    }

    /// The largest page this cache renders whole to keep.
    fn page_limit(&self) -> usize {
        (self.budget / 4).min(MAX_PAGE_BYTES)
    }
}

/// This request's turn to render the page under `key`: after any render of it under way (at most
/// `wait`; then `None`, and it renders too).
async fn turn(renders: &Renders, key: &Key, wait: Duration) -> Option<Turn> {
    let lock = renders.lock().unwrap_or_else(|e| e.into_inner()).entry(key.clone()).or_default().clone();
    let guard = tokio::time::timeout(wait, lock.lock_owned()).await.ok()?;
    Some(Turn { renders: renders.clone(), key: key.clone(), guard: Some(guard) })
}

/// A request's turn to render a page; the last one out forgets the key.
struct Turn {
    renders: Renders,
    key: Key,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Drop for Turn {
    fn drop(&mut self) {
        let mut renders = self.renders.lock().unwrap_or_else(|e| e.into_inner());
        drop(self.guard.take());
        // Held by the map alone: nobody waits for it.
        if renders.get(&self.key).is_some_and(|lock| Arc::strong_count(lock) == 1) {
            renders.remove(&self.key);
        }
    }
}

/// How a page is rendered and kept for one caller: for their audience, or for them alone.
struct Plan {
    key: Key,
    /// The frame's data as the render gets it (the audience's: markers for the name and initial).
    shell: ShellInfo,
    /// Who the render runs as.
    caller: Caller,
    /// What stands for the name and its initial in a render for an audience (none for a caller).
    markers: Vec<(String, Hole)>,
}

/// Copies the `T` of one request's extensions, if it has one, into another's.
fn carry<T: Clone + Send + Sync + 'static>(from: &axum::http::Extensions, to: &mut axum::http::Extensions) {
    if let Some(value) = from.get::<T>() {
        to.insert(value.clone());
    }
}

impl Plan {
    /// For the caller's audience, when their name and initial read the same wherever a page
    /// shows them.
    fn audience(caller: &Caller, shell: &ShellInfo, marker: &str, url: &str) -> Option<Self> {
        let plain = |text: &str| {
            !text.is_empty()
                && text.len() <= 255
                && text.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'))
        };
        if !plain(&caller.username) || !plain(&shell.initial) || shell.username != caller.username {
            return None;
        }
        let (name, initial) = (format!("{marker}n"), format!("{marker}i"));
        let audience = format!("audience\u{0}{}", rights(caller));
        // Everything about a member but who they are; their source only reaches the audit log.
        let as_audience = Caller {
            username: name.clone(),
            uid: String::new(),
            groups: caller.groups.clone(),
            namespaces: caller.namespaces.clone(),
            platform_admin: caller.platform_admin,
            admin_of: caller.admin_of.clone(),
            source: String::new(),
        };
        Some(Self {
            key: (audience, url.to_owned()),
            shell: ShellInfo { username: name.clone(), initial: initial.clone(), ..shell.clone() },
            caller: as_audience,
            markers: vec![(name, Hole::Name), (initial, Hole::Initial)],
        })
    }

    /// For the caller alone.
    fn caller(caller: &Caller, shell: &ShellInfo, url: &str) -> Self {
        let who = format!("caller\u{0}{}\u{0}{}\u{0}{}", caller.uid, caller.username, rights(caller));
        Self { key: (who, url.to_owned()), shell: shell.clone(), caller: caller.clone(), markers: Vec::new() }
    }

    /// The request the render gets: this plan's caller and data. A render for an audience keeps
    /// only what the route needs and nothing a member sent or is: of the headers, `Host`; of
    /// the extensions, the matched route, the original URI and the nonce (no cookie, token,
    /// session, principal, client address or anything added later).
    fn request(&self, parts: &axum::http::request::Parts, catalog: &Arc<CatalogView>) -> Request {
        let mut parts = parts.clone();
        if !self.markers.is_empty() {
            let mut headers = HeaderMap::new();
            if let Some(host) = parts.headers.get(header::HOST) {
                headers.insert(header::HOST, host.clone());
            }
            parts.headers = headers;
            let mut kept = axum::http::Extensions::new();
            carry::<axum::extract::MatchedPath>(&parts.extensions, &mut kept);
            carry::<axum::extract::OriginalUri>(&parts.extensions, &mut kept);
            carry::<PageNonce>(&parts.extensions, &mut kept);
            parts.extensions = kept;
        }
        parts.extensions.insert(self.caller.clone());
        parts.extensions.insert(PageData { shell: self.shell.clone(), catalog: catalog.clone() });
        Request::from_parts(parts, Body::empty())
    }
}

/// What a caller may see, as a key: groups, teams and roles.
fn rights(caller: &Caller) -> String {
    format!("{:?}\u{0}{:?}\u{0}{}\u{0}{:?}", caller.groups, caller.namespaces, caller.platform_admin, caller.admin_of)
}

/// What a render gave.
enum Rendered {
    /// A page, whole.
    Page(response::Parts, Bytes),
    /// Anything else (an error, a redirect, a page too large to keep, a failure midway), as it
    /// comes.
    Other(Response),
}

/// Runs the render and reads a page's body whole, up to `limit` bytes.
async fn render(next: Next, request: Request, limit: usize) -> Rendered {
    let response = next.run(request).await;
    let (parts, body) = response.into_parts();
    let is_page = parts.status == StatusCode::OK
        && parts.headers.get(header::CONTENT_TYPE).is_some_and(|t| t.as_bytes().starts_with(b"text/html"))
        && !parts.headers.contains_key(header::SET_COOKIE);
    if !is_page {
        return Rendered::Other(Response::from_parts(parts, body));
    }
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
                return Rendered::Other(failed);
            }
        }
        if size > limit {
            // Too large to keep: passed on as it comes.
            let head = futures::stream::iter(chunks.into_iter().map(Ok::<_, axum::Error>));
            return Rendered::Other(Response::from_parts(parts, Body::from_stream(head.chain(stream))));
        }
    }
    Rendered::Page(parts, Bytes::from(chunks.concat()))
}

/// The middleware: answers a signed-in `GET /catalog` from a kept page when its data is
/// unchanged, renders (and keeps) it otherwise. Every other request passes through untouched.
pub async fn serve(State(cache): State<PageCache>, request: Request, next: Next) -> Response {
    if request.method() != Method::GET || request.uri().path() != CACHED_PATH || cache.budget == 0 {
        return next.run(request).await;
    }
    let (Some(caller), Some(PageNonce(nonce))) =
        (request.extensions().get::<Caller>().cloned(), request.extensions().get::<PageNonce>().cloned())
    else {
        return next.run(request).await;
    };
    // Stored blocks carry at most 65,535 bytes (a nonce is 22; a name put in, at most 255).
    if nonce.len() > usize::from(u16::MAX) {
        return next.run(request).await;
    }
    // What the render would read; on an error the render itself reads (and reports) it.
    let Ok((shell, catalog)) = cache.portal.shell_and_catalog(&caller).await else {
        return next.run(request).await;
    };
    let url = request.uri().to_string();
    let gzip = accepts_gzip(request.headers());
    let fill = Fill { nonce: &nonce, name: &caller.username, initial: &shell.initial };
    let (parts, _) = request.into_parts();
    let plans = Plan::audience(&caller, &shell, &cache.marker, &url)
        .into_iter()
        .chain(std::iter::once_with(|| Plan::caller(&caller, &shell, &url)));
    for plan in plans {
        let kept = || cache.lookup(&plan.key, &plan.shell, &catalog);
        let mut found = kept();
        // Another request rendering the same page: wait for it, then answer from its page.
        let _turn = if found.is_none() { turn(&cache.renders, &plan.key, RENDER_WAIT).await } else { None };
        if found.is_none() {
            found = kept();
        }
        if let Some(page) = found {
            METRICS.page_cache.with_label_values(&["kept"]).inc();
            return cache.answer(&plan.key, &page, &fill, gzip);
        }
        METRICS.page_cache.with_label_values(&["rendered"]).inc();
        let (head, bytes) = match render(next.clone(), plan.request(&parts, &catalog), cache.page_limit()).await {
            Rendered::Page(head, bytes) => (head, bytes),
            // Made for a member, it goes out; made for an audience, it holds the markers.
            Rendered::Other(response) if plan.markers.is_empty() => return response,
            Rendered::Other(_) => continue,
        };
        let mut holes = vec![(nonce.as_str(), Hole::Nonce)];
        holes.extend(plan.markers.iter().map(|(marker, hole)| (marker.as_str(), *hole)));
        let (pieces, holes) = split(&bytes, &holes);
        let marked =
            |piece: &Bytes| memchr::memmem::find(&piece.to_ascii_lowercase(), cache.marker.as_bytes()).is_some();
        if !plan.markers.is_empty() && pieces.iter().any(marked) {
            // The name stood in the page in another form too (changed in case, cut): it cannot
            // be put in, so this caller's page is rendered as theirs.
            tracing::warn!("the catalog page shows the name in a form it cannot be put into: rendered per caller");
            continue;
        }
        let page = Page {
            shell: plan.shell,
            catalog: catalog.clone(),
            status: head.status,
            headers: head.headers,
            pieces,
            holes,
            gzip: OnceLock::new(),
            counted: AtomicUsize::new(0),
        };
        let page = cache.keep(&plan.key, page);
        return cache.answer(&plan.key, &page, &fill, gzip);
    }
    unreachable!("the last plan (for the caller alone) always answers")
}

fn answer(page: &Page, gzipped: Option<&Gzipped>, fill: &Fill) -> Response {
    let body = match gzipped {
        Some(gzipped) => gzipped.body(&page.holes, fill),
        None => page.body(fill),
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

/// `body` split at every occurrence of each marker (random values: they occur nowhere else), and
/// which marker stood between each piece and the next.
fn split(body: &Bytes, markers: &[(&str, Hole)]) -> (Vec<Bytes>, Vec<Hole>) {
    let mut found: Vec<(usize, usize, Hole)> = markers
        .iter()
        .flat_map(|(marker, hole)| {
            memchr::memmem::find_iter(body, marker.as_bytes()).map(|at| (at, marker.len(), *hole))
        })
        .collect();
    found.sort_unstable_by_key(|(at, ..)| *at);
    let mut pieces = Vec::with_capacity(found.len() + 1);
    let mut start = 0;
    for &(at, len, _) in &found {
        pieces.push(body.slice(start..at));
        start = at + len;
    }
    pieces.push(body.slice(start..));
    (pieces, found.into_iter().map(|(.., hole)| hole).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A page with two kinds of holes, as rendered for an audience.
    fn kept_page(html: &'static str, markers: &[(&str, Hole)]) -> Page {
        let (pieces, holes) = split(&Bytes::from_static(html.as_bytes()), markers);
        Page {
            shell: ShellInfo::default(),
            catalog: Arc::new(CatalogView::new(vec![], vec![])),
            status: StatusCode::OK,
            headers: HeaderMap::new(),
            pieces,
            holes,
            gzip: OnceLock::new(),
            counted: AtomicUsize::new(0),
        }
    }

    #[test]
    fn a_page_is_split_at_its_nonce_and_joined_with_another() {
        let page = kept_page(
            "<script nonce=\"N0nce\">a</script><p>N0nc</p><script nonce=\"N0nce\">",
            &[("N0nce", Hole::Nonce)],
        );
        assert_eq!(page.pieces.len(), 3);
        let fill = |nonce| Fill { nonce, name: "unused", initial: "U" };
        assert_eq!(
            String::from_utf8(page.body(&fill("other"))).unwrap(),
            "<script nonce=\"other\">a</script><p>N0nc</p><script nonce=\"other\">"
        );
        assert_eq!(split(&Bytes::from_static(b"plain"), &[("N0nce", Hole::Nonce)]).0.len(), 1);

        // Kept compressed, joined with a nonce: a gzip stream a decoder reads back to the same
        // page, checksum and length included.
        for nonce in ["other", "a-longer-nonce-value-0123456789"] {
            let gzip = page.gzipped().0.expect("compressed").body(&page.holes, &fill(nonce));
            let mut plain = String::new();
            std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gzip[..]), &mut plain).unwrap();
            assert_eq!(plain, String::from_utf8(page.body(&fill(nonce))).unwrap());
        }
    }

    #[test]
    fn a_page_for_an_audience_takes_each_members_name_and_nonce() {
        let markers = [("N0nce", Hole::Nonce), ("qm00ffn", Hole::Name), ("qm00ffi", Hole::Initial)];
        let page = kept_page(
            concat!(
                "<script nonce=\"N0nce\"></script><span>qm00ffi</span><span>qm00ffn</span>",
                "<details aria-label=\"Account menu of qm00ffn\"></details>",
                "<script nonce=\"N0nce\">{\"username\":\"qm00ffn\",\"initial\":\"qm00ffi\",\"services\":3}</script>"
            ),
            &markers,
        );
        use Hole::*;
        assert_eq!(page.holes, [Nonce, Initial, Name, Name, Nonce, Name, Initial]);
        let expected = |nonce: &str, name: &str, initial: &str| {
            format!(
                "<script nonce=\"{nonce}\"></script><span>{initial}</span><span>{name}</span>\
                 <details aria-label=\"Account menu of {name}\"></details>\
                 <script nonce=\"{nonce}\">{{\"username\":\"{name}\",\"initial\":\"{initial}\",\"services\":3}}</script>"
            )
        };
        for (nonce, name, initial) in
            [("n1", "alice", "A"), ("a-longer-nonce-value", "a.very-long_name@example.com", "A")]
        {
            let fill = Fill { nonce, name, initial };
            assert_eq!(String::from_utf8(page.body(&fill)).unwrap(), expected(nonce, name, initial));
            let gzip = page.gzipped().0.expect("compressed").body(&page.holes, &fill);
            let mut plain = String::new();
            std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gzip[..]), &mut plain).unwrap();
            assert_eq!(plain, expected(nonce, name, initial));
        }
    }

    /// A member of team-a in one group, signed in from `source`.
    fn member(username: &str, group: &str, source: &str) -> Caller {
        Caller {
            username: username.into(),
            uid: "uid-1".into(),
            groups: vec![group.into()],
            namespaces: Some(vec!["team-a".into()]),
            platform_admin: false,
            admin_of: vec![],
            source: source.into(),
        }
    }

    #[test]
    fn only_a_plain_name_is_put_into_a_page_for_an_audience() {
        let caller = |username: &str| member(username, "g", "127.0.0.1");
        let shell = |username: &str| ShellInfo {
            username: username.into(),
            initial: ShellInfo::initial_of(username),
            services: 3,
            instances: 1,
            approvals: 0,
        };
        let plan = |name: &str| Plan::audience(&caller(name), &shell(name), "qm00ff", "/catalog");

        let alice = plan("alice").expect("a plain name");
        assert_eq!(alice.key, plan("bob").unwrap().key, "two members with the same rights share a page");
        assert_eq!(alice.markers, [("qm00ffn".to_string(), Hole::Name), ("qm00ffi".to_string(), Hole::Initial)]);
        assert_eq!((alice.shell.username.as_str(), alice.shell.initial.as_str()), ("qm00ffn", "qm00ffi"));
        assert_eq!((alice.shell.services, alice.shell.instances), (3, 1));
        assert_eq!((alice.caller.username.as_str(), alice.caller.uid.as_str()), ("qm00ffn", ""));
        assert!(!alice.key.0.contains("alice") && !alice.key.0.contains("uid-1"));
        let mut admin = caller("alice");
        admin.platform_admin = true;
        assert_ne!(Plan::audience(&admin, &shell("alice"), "qm00ff", "/catalog").unwrap().key, alice.key);
        let mut other_team = caller("alice");
        other_team.namespaces = Some(vec!["team-b".into()]);
        assert_ne!(Plan::audience(&other_team, &shell("alice"), "qm00ff", "/catalog").unwrap().key, alice.key);
        assert_ne!(
            plan("alice").unwrap().key,
            Plan::audience(&caller("alice"), &shell("alice"), "qm00ff", "/catalog?q=x").unwrap().key
        );

        // Names that would read differently in HTML, attributes or JSON get pages of their own.
        for name in ["", "a<b", "a\"b", "a&b", "a b", "ä", "a\\b", &"a".repeat(256)] {
            assert!(plan(name).is_none(), "{name:?}");
        }
        assert!(Plan::audience(&caller("alice"), &shell("someone-else"), "qm00ff", "/catalog").is_none());
        let own = Plan::caller(&caller("alice"), &shell("alice"), "/catalog");
        assert!(own.markers.is_empty() && own.key.0.contains("uid-1") && own.caller.username == "alice");
    }

    /// A render for an audience gets the URL, the host and the nonce, and nothing a member sent
    /// or is; a member's own render gets their request as it came.
    #[test]
    fn a_render_for_an_audience_gets_nothing_of_the_members_request() {
        let member = member("alice", "team:team-a", "192.0.2.7");
        let shell = ShellInfo { username: "alice".into(), initial: "A".into(), ..ShellInfo::default() };
        let (mut parts, ()) = axum::http::Request::get("/catalog?q=x")
            .header(header::HOST, "portal.example")
            .header(header::COOKIE, "qm_session=secret")
            .header(header::AUTHORIZATION, "Bearer qm_secret")
            .header(header::ACCEPT_LANGUAGE, "de")
            .header("x-forwarded-for", "192.0.2.7")
            .body(())
            .unwrap()
            .into_parts();
        parts.extensions.insert(app::port::RequestSource("192.0.2.7".into()));
        parts.extensions.insert(axum::extract::ConnectInfo(std::net::SocketAddr::from(([192, 0, 2, 7], 5000))));
        parts.extensions.insert(member.clone());
        parts.extensions.insert(PageNonce("n0nce".into()));
        let catalog = Arc::new(CatalogView::new(vec![], vec![]));

        let plan = Plan::audience(&member, &shell, "qm00ff", "/catalog?q=x").unwrap();
        let (got, _) = plan.request(&parts, &catalog).into_parts();
        assert_eq!(got.uri, "/catalog?q=x");
        assert_eq!(got.headers.len(), 1, "{:?}", got.headers);
        assert_eq!(got.headers[header::HOST], "portal.example");
        assert!(got.extensions.get::<app::port::RequestSource>().is_none());
        assert!(got.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().is_none());
        assert_eq!(got.extensions.get::<PageNonce>().map(|n| n.0.as_str()), Some("n0nce"));
        let caller = app::port::caller_of(Some(&got)).unwrap();
        assert_eq!((caller.username.as_str(), caller.uid.as_str(), caller.source.as_str()), ("qm00ffn", "", ""));
        assert_eq!(got.extensions.get::<PageData>().unwrap().shell.username, "qm00ffn");

        let own = Plan::caller(&member, &shell, "/catalog?q=x");
        let (got, _) = own.request(&parts, &catalog).into_parts();
        assert_eq!(got.headers.len(), 5);
        assert_eq!(app::port::caller_of(Some(&got)).unwrap().source, "192.0.2.7");
    }

    fn page(html: String) -> Arc<Page> {
        Arc::new(Page {
            shell: ShellInfo::default(),
            catalog: Arc::new(CatalogView::new(vec![], vec![])),
            status: StatusCode::OK,
            headers: HeaderMap::new(),
            pieces: split(&Bytes::from(html), &[("N0nce", Hole::Nonce)]).0,
            holes: vec![Hole::Nonce; 2],
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
        let (pieces, holes) = split(&Bytes::from(html.clone()), &[(nonce, Hole::Nonce)]);
        let gzipped = Gzipped::new(&pieces).unwrap();
        let gzip = gzipped.body(&holes, &Fill { nonce: "ZyXwVuTsRqPoNmLkJiHgFe", name: "", initial: "" });
        assert!(gzip.len() < html.len() / 10, "{} of {}", gzip.len(), html.len());
        let mut plain = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gzip[..]), &mut plain).unwrap();
        assert_eq!(plain, html.replace(nonce, "ZyXwVuTsRqPoNmLkJiHgFe"));
    }

    #[tokio::test]
    async fn a_page_is_rendered_by_one_request_at_a_time_and_its_key_forgotten_after() {
        let renders = Renders::default();
        let key = |url: &str| ("audience".to_owned(), url.to_owned());
        let wait = Duration::from_secs(5);
        let first = turn(&renders, &key("/catalog"), wait).await.expect("no render under way");
        // Another page is not held up.
        drop(turn(&renders, &key("/catalog?q=x"), wait).await.expect("another page renders at once"));
        // The same page waits until the first render is done.
        let waiting = tokio::spawn({
            let renders = renders.clone();
            async move { turn(&renders, &key("/catalog"), Duration::from_secs(5)).await.is_some() }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!waiting.is_finished(), "a second render of the page did not wait");
        drop(first);
        assert!(waiting.await.unwrap(), "the waiting request got no turn");
        assert!(renders.lock().unwrap().is_empty(), "keys were kept after their renders");
        // A render that takes too long: the next request stops waiting and renders itself.
        let slow = turn(&renders, &key("/catalog"), wait).await.unwrap();
        assert!(turn(&renders, &key("/catalog"), Duration::from_millis(50)).await.is_none());
        drop(slow);
        assert!(renders.lock().unwrap().is_empty());
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
