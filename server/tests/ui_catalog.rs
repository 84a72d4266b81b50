//! The catalog and class pages as a browser first gets them (server-rendered), and their server
//! functions: tiles, search and filters in the URL, broker text escaped, unsafe URLs dropped.

mod common;

use common::{seed, ui::quiet_app};
use serde_json::{Value, json};

#[tokio::test]
async fn the_catalog_renders_tiles_and_escapes_broker_text() {
    let app = quiet_app().await;
    seed::catalog(app.store.as_ref()).await;
    let (status, html) = app.page("/catalog").await;
    assert_eq!(status, 200);
    for expected in
        ["HDFS", "Kafka topic", "Platform team", "A quota-limited HDFS namespace", "hadoop", "/catalog/hdfs"]
    {
        assert!(html.contains(expected), "catalog lacks {expected:?}");
    }
    // Broker-supplied markup arrives as text, never as markup.
    assert!(!html.contains("<script>alert('tile')"), "a broker's <script> reached the page");
    assert!(!html.contains("<img src=x onerror"), "a broker's <img> reached the page");
    assert!(html.contains("&lt;script&gt;alert(") || html.contains("&lt;script>alert("), "escaped text missing");
    // A javascript: image is never used; the data: image is.
    assert!(!html.contains("javascript:alert(1)\""), "javascript: URL used as an attribute");
    assert!(html.contains("src=\"data:image/svg+xml;base64,PHN2Zy8+\""));
    assert!(html.contains("data-fallback-icon"), "no generated icon for the class without a usable image");
    // The removed class is marked, and listed last.
    assert!(
        html.contains("Removed from the broker&#x27;s catalog") || html.contains("Removed from the broker's catalog")
    );
    let hdfs = html.find("data-class=\"hdfs\"").unwrap();
    let old = html.find("data-class=\"old\"").unwrap();
    assert!(hdfs < old, "removed classes come last");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn filters_in_the_url_are_applied_before_the_browser_takes_over() {
    let app = quiet_app().await;
    seed::catalog(app.store.as_ref()).await;
    let (_, html) = app.page("/catalog?q=kafka").await;
    assert!(html.contains("data-class=\"kafka\""));
    assert!(!html.contains("data-class=\"hdfs\""), "the search kept a tile that does not match");
    assert!(html.contains("1 of 4 services"));
    let (_, html) = app.page("/catalog?tag=hadoop").await;
    assert!(html.contains("data-class=\"hdfs\"") && !html.contains("data-class=\"kafka\""));
    let (_, html) = app.page("/catalog?q=nothing-like-this").await;
    assert!(html.contains("No service matches these filters"));
    app.stop().await.unwrap();
}

#[tokio::test]
async fn an_empty_catalog_says_what_to_do_and_broken_brokers_are_shown() {
    let app = quiet_app().await;
    let (_, html) = app.page("/catalog").await;
    assert!(html.contains("No services yet") && html.contains("/admin/brokers"));
    seed::broker(app.store.as_ref(), "broken", false, "Error fetching catalog: connection refused <x>").await;
    let (_, html) = app.page("/catalog").await;
    assert!(html.contains("could not be read") && html.contains("connection refused &lt;x&gt;"), "{html}");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn the_class_page_shows_plans_side_by_side_with_what_their_forms_ask() {
    let app = quiet_app().await;
    seed::catalog(app.store.as_ref()).await;
    let (status, html) = app.page("/catalog/hdfs").await;
    assert_eq!(status, 200);
    for expected in [
        "A directory tree with quotas.",
        "https://docs.example.com/hdfs",
        "SHARED",
        "DEDICATED",
        "$450.00 / month",
        "Free",
        "Namespace quota (files)",
        "slider in GB",
        "/catalog/hdfs/request?plan=shared",
    ] {
        assert!(html.contains(expected), "class page lacks {expected:?}");
    }
    // Free plans first.
    assert!(html.find("data-plan=\"shared\"").unwrap() < html.find("data-plan=\"dedicated\"").unwrap());
    // A mailto: support address is a link that shows the address; javascript: is never a link.
    assert!(html.contains("href=\"mailto:team@example.com\"") && html.contains("Support: team@example.com"), "{html}");
    let (_, evil) = app.page("/catalog/evil").await;
    assert!(!evil.contains("href=\"javascript:"), "a javascript: link reached the page");
    // A mailto: that would break out of an attribute is shown as text only.
    assert!(
        !evil.contains("href=\"mailto:") && evil.contains("Support: mailto:x@example.com"),
        "a broken mailto: became a link"
    );
    assert!(!evil.contains("<script>alert('long')"));
    // Reachable by object name too; a removed class cannot be requested.
    let (status, old) = app.page("/catalog/svc-old").await;
    assert_eq!(status, 200);
    assert!(old.contains("data-testid=\"class-removed\"") && !old.contains("data-testid=\"request-plan\""));
    let (status, _) = app.page("/catalog/no-such-class").await;
    assert_eq!(status, 404);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn catalog_server_functions_answer_json_and_filter_on_the_server() {
    let app = quiet_app().await;
    seed::catalog(app.store.as_ref()).await;
    let (status, page) = app.call_json("catalog", json!({"query": {}})).await;
    assert_eq!(status, 200, "{page}");
    let tiles = page["tiles"].as_array().unwrap();
    assert_eq!((tiles.len(), page["total"].as_u64()), (4, Some(4)));
    let hdfs = tiles.iter().find(|t| t["external_name"] == "hdfs").unwrap();
    assert_eq!(hdfs["slug"], "hdfs");
    assert_eq!(hdfs["plans"], 2);
    assert!(page["tags"].as_array().unwrap().iter().any(|t| t == "hadoop"));
    let (_, page) = app.call_json("catalog", json!({"query": {"q": "topic"}})).await;
    assert_eq!((page["tiles"].as_array().unwrap().len(), page["matches"].as_u64()), (1, Some(1)));
    let (_, class) = app.call_form("class", &[("class", "hdfs")]).await;
    assert_eq!(class["plans"].as_array().unwrap().len(), 2);
    assert!(class["plans"][0]["create_schema"].is_object());
    let (_, missing) = app.call_form("class", &[("class", "nope")]).await;
    assert_eq!(missing, Value::Null);
    // The cache follows the store: a new class shows up on the next call.
    seed::class(app.store.as_ref(), seed::BROKER, "svc-new", "redis", "Redis", &[], json!({})).await;
    common::eventually(10, "the new class in the catalog", || async {
        let (_, page) = app.call_json("catalog", json!({"query": {}})).await;
        (page["total"] == 5).then_some(())
    })
    .await;
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_large_catalog_sends_its_first_page_and_offers_the_rest() {
    let app = quiet_app().await;
    seed::broker(app.store.as_ref(), seed::BROKER, true, "ok").await;
    for i in 0..75 {
        seed::class(
            app.store.as_ref(),
            seed::BROKER,
            &format!("svc-{i:03}"),
            &format!("s{i:03}"),
            "A service",
            &[],
            json!({}),
        )
        .await;
    }
    let (_, html) = app.page("/catalog").await;
    assert_eq!(html.matches("data-testid=\"catalog-tile\"").count(), 60);
    assert!(html.contains("Show all 75 services") && html.contains("href=\"/catalog?all=1\""));
    assert!(!html.contains("s074"), "tiles beyond the first page travel with the page");
    let (_, html) = app.page("/catalog?all=1").await;
    assert_eq!(html.matches("data-testid=\"catalog-tile\"").count(), 75);
    app.stop().await.unwrap();
}

/// The catalog is served from memory (built once per catalog change, filtered once per team set
/// and visibility rules): a relist and a visibility change still show on the next page.
#[tokio::test]
async fn the_cached_catalog_follows_relists_and_visibility_changes() {
    let app = quiet_app().await;
    seed::catalog(app.store.as_ref()).await;
    // A member of team-a (not an admin), with a token of their own.
    let member = app.accounts.create_user("mia", "Mia", None, false, false).await.unwrap();
    app.accounts.set_membership(member.id, "team-a", server::auth::Role::Member).await.unwrap();
    let (token, _) = app.accounts.create_token(member.id, "cache test").await.unwrap();
    let page = |path: &'static str| {
        let request = app.anonymous.get(app.url(path)).bearer_auth(&token);
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 200, "{path}");
            response.text().await.unwrap()
        }
    };
    let html = page("/catalog").await;
    assert!(html.contains("data-class=\"kafka\"") && html.contains("data-class=\"hdfs\""));
    // Asked again: the same page (now from the cache).
    assert_eq!(page("/catalog").await.matches("data-testid=\"catalog-tile\"").count(), 4);

    // Kafka offered to team-b only: gone from team-a's very next page, its count and its filters.
    let (status, answer) = app
        .call_json(
            "change_governance",
            json!({"change": {"PutVisibility": {"class": "kafka", "plan": "", "team": "team-b"}}}),
        )
        .await;
    assert_eq!((status, &answer), (200, &json!({"Done": null})), "{answer}");
    let html = page("/catalog").await;
    assert!(!html.contains("data-class=\"kafka\""), "a hidden class stayed on the cached page");
    assert!(html.contains("data-class=\"hdfs\"") && html.contains("3 services"), "{html}");
    assert!(!html.contains("data-tag=\"streaming\""), "the hidden class's tag is still offered");
    // The administrator (no visibility limits) still sees it.
    let (_, html) = app.page("/catalog").await;
    assert!(html.contains("data-class=\"kafka\""));
    // And back.
    let (_, answer) = app
        .call_json(
            "change_governance",
            json!({"change": {"DeleteVisibility": {"class": "kafka", "plan": "", "team": "team-b"}}}),
        )
        .await;
    assert_eq!(answer, json!({"Done": null}));
    assert!(page("/catalog").await.contains("data-class=\"kafka\""), "a class shown again stayed hidden");

    // A relist adds a class and marks one removed: the store's watch tells the cache (it is
    // asynchronous, so allow it the few milliseconds a watch event takes).
    seed::class(app.store.as_ref(), seed::BROKER, "svc-redis", "redis", "A Redis cache", &["cache"], json!({})).await;
    seed::mark_class_removed(app.store.as_ref(), "svc-kafka").await;
    common::eventually(2, "the relisted catalog on the page", || async {
        let html = page("/catalog").await;
        let kafka = html.find("data-class=\"kafka\"")?;
        (html.contains("data-class=\"redis\"") && html[kafka..].contains("Removed from the broker")).then_some(())
    })
    .await;
    app.stop().await.unwrap();
}

/// A quiet portal with the seeded catalog and a page cache of `bytes`.
async fn catalog_with_page_cache(bytes: usize) -> common::TestApp {
    let app = common::TestApp::spawn_with(tempfile::tempdir().unwrap(), |c| {
        c.controller = None;
        c.builtin_broker = false;
        c.page_cache_bytes = bytes;
    })
    .await;
    seed::catalog(app.store.as_ref()).await;
    app
}

/// `quartermaster_page_cache_total{result}` as `/metrics` shows it now.
async fn page_cache_count(app: &common::TestApp, result: &str) -> f64 {
    let text = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    common::metric_value(&text, &format!("quartermaster_page_cache_total{{result=\"{result}\"}}")).unwrap_or(0.0)
}

/// The page's CSP nonce, from its header, and the body with that nonce blanked out.
fn nonce_and_rest(response_csp: &str, html: &str) -> (String, String) {
    let nonce = response_csp.split("'nonce-").nth(1).and_then(|s| s.split('\'').next()).expect("a nonce in the CSP");
    assert!(html.contains(&format!("nonce=\"{nonce}\"")), "the scripts do not carry the header's nonce");
    (nonce.to_string(), html.replace(nonce, "NONCE"))
}

/// The catalog page is kept per user and URL and reused only while what it shows is unchanged:
/// each answer carries a nonce of its own (header and scripts agree), and a change the page
/// would show (a new service, an instance in the navigation's count, another user) is rendered
/// afresh at once.
#[tokio::test]
async fn a_kept_catalog_page_is_reused_only_while_what_it_shows_is_unchanged() {
    let app = quiet_app().await;
    seed::catalog(app.store.as_ref()).await;
    let get = |client: reqwest::Client, path: &'static str| {
        let url = app.url(path);
        async move {
            let response = client.get(url).send().await.unwrap();
            assert_eq!(response.status(), 200);
            let csp = response.headers()["content-security-policy"].to_str().unwrap().to_string();
            let html = response.text().await.unwrap();
            nonce_and_rest(&csp, &html)
        }
    };
    let counted = |result: &'static str| page_cache_count(&app, result);

    let (first_nonce, first) = get(app.client.clone(), "/catalog").await;
    let (kept, rendered) = (counted("kept").await, counted("rendered").await);
    let (second_nonce, second) = get(app.client.clone(), "/catalog").await;
    assert_ne!(first_nonce, second_nonce, "two answers shared a nonce");
    assert_eq!(first, second, "the same page, apart from its nonce");
    assert_eq!(counted("kept").await, kept + 1.0, "the second request was not answered from the kept page");
    assert_eq!(counted("rendered").await, rendered);

    // A browser taking gzip gets the kept page compressed, with a nonce of its own, decoding to
    // the same page.
    let response =
        app.client.get(app.url("/catalog")).header("accept-encoding", "gzip, deflate, br").send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-encoding"], "gzip");
    let csp = response.headers()["content-security-policy"].to_str().unwrap().to_string();
    let compressed = response.bytes().await.unwrap();
    let mut html = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&compressed[..]), &mut html).unwrap();
    let (gzip_nonce, gzipped) = nonce_and_rest(&csp, &html);
    assert!(gzip_nonce != first_nonce && gzip_nonce != second_nonce, "a nonce reused");
    assert_eq!(gzipped, first, "the compressed page is not the same page");
    assert!(compressed.len() * 2 < html.len(), "{} bytes compressed of {}", compressed.len(), html.len());
    assert_eq!(counted("kept").await, kept + 2.0);

    // A new service: rendered afresh, and shown.
    seed::class(app.store.as_ref(), seed::BROKER, "svc-zk", "zookeeper", "Coordination", &[], json!({})).await;
    let (_, third) = get(app.client.clone(), "/catalog").await;
    assert!(third.contains("data-class=\"zookeeper\""), "the new service is missing");
    assert_eq!(counted("rendered").await, rendered + 1.0);

    // An instance in the caller's team changes the navigation's count.
    let count = |html: &str| {
        let badge = html.split("data-count=\"/instances\"").nth(1)?;
        Some(badge.split_once('>')?.1.chars().take_while(char::is_ascii_digit).collect::<String>())
    };
    let before = count(&third);
    assert_eq!(before.as_deref(), Some("0"));
    app.store.create(app::model::Kind::ServiceInstance, common::process::hdfs("logs")).await.unwrap();
    let (_, fourth) = get(app.client.clone(), "/catalog").await;
    assert_ne!(count(&fourth), before, "the navigation's instance count did not follow");
    assert_eq!(count(&fourth).as_deref(), Some("1"));

    // Another user gets their own page, with their own name.
    let member = app.accounts.create_user("member", "A member", None, false, false).await.unwrap();
    app.accounts.set_membership(member.id, "team-a", server::auth::Role::Member).await.unwrap();
    let (token, _) = app.accounts.create_token(member.id, "t").await.unwrap();
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::AUTHORIZATION, format!("Bearer {token}").parse().unwrap());
    let as_member = reqwest::Client::builder().default_headers(headers).build().unwrap();
    let (_, theirs) = get(as_member, "/catalog").await;
    assert!(theirs.contains("Account menu of member"), "the member got someone else's page");
    let (_, mine) = get(app.client.clone(), "/catalog").await;
    assert!(mine.contains("Account menu of admin") && mine == fourth, "the admin's kept page changed");
    app.stop().await.unwrap();
}

/// A client acting with an API token of a new member of `team` (created when missing).
async fn member(app: &common::TestApp, username: &str, team: &str) -> reqwest::Client {
    app.person(username, false, &[(team, server::auth::Role::Member)]).await;
    app.token_client(username).await
}

/// Whether `html` holds a page cache name marker (`qm` and 32 hex digits) that was not put in.
fn has_marker(html: &str) -> bool {
    html.match_indices("qm").any(|(at, _)| {
        let rest = &html.as_bytes()[at + 2..];
        rest.len() >= 32 && rest[..32].iter().all(|b| b.is_ascii_hexdigit())
    })
}

/// Members who may see the same things share one rendered page, each answered with their own
/// name (text, account menu label, initial) and nonce; another team or another
/// role is another audience, rendered for itself.
#[tokio::test]
async fn members_with_the_same_rights_share_a_page_that_shows_each_their_own_name() {
    let app = quiet_app().await;
    seed::catalog(app.store.as_ref()).await;
    let (alice, amy, bob) = (
        member(&app, "alice", "team-a").await,
        member(&app, "amy", "team-a").await,
        member(&app, "bob", "team-a").await,
    );
    let anna = member(&app, "anna", "team-b").await;
    let page = |client: reqwest::Client, gzip: bool| {
        let url = app.url("/catalog");
        async move {
            let mut request = client.get(url);
            if gzip {
                request = request.header("accept-encoding", "gzip");
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 200);
            let csp = response.headers()["content-security-policy"].to_str().unwrap().to_string();
            let encoded = response.headers().get("content-encoding").map(|v| v.to_str().unwrap().to_string());
            let bytes = response.bytes().await.unwrap();
            let html = if encoded.as_deref() == Some("gzip") {
                let mut html = String::new();
                std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut html).unwrap();
                html
            } else {
                assert!(!gzip, "a gzip answer was not compressed");
                String::from_utf8(bytes.to_vec()).unwrap()
            };
            assert!(!has_marker(&html), "a name marker was left in the page");
            nonce_and_rest(&csp, &html)
        }
    };
    let counted = |result: &'static str| page_cache_count(&app, result);
    let (kept, rendered) = (counted("kept").await, counted("rendered").await);

    let (_, alices) = page(alice.clone(), false).await;
    assert_eq!(counted("rendered").await, rendered + 1.0);
    assert!(alices.contains("Account menu of alice") && alices.contains(">alice<!></span>"), "alice's name is missing");
    // The text and the menu's label. The catalog is an islands page: the shell is not hydrated,
    // so its data (with the name) is not in the page.
    assert_eq!(alices.matches("alice").count(), 2, "alice's name is not everywhere a render puts it");
    let shell_data = |html: &str| html.contains(r#"\"initial\":"#);
    assert!(!shell_data(&alices), "an islands page carries the shell's hydration data");
    let initial = |html: &str| {
        let avatar = html.split("rounded-full bg-indigo-100").nth(1)?;
        avatar.split_once('>')?.1.chars().next()
    };
    assert_eq!(initial(&alices), Some('A'));
    assert!(alices.contains("data-class=\"hdfs\""));

    // amy: the same team and rights, the same initial: alice's page, with amy's name.
    let (amy_nonce, amys) = page(amy.clone(), false).await;
    assert_eq!(counted("rendered").await, rendered + 1.0, "amy's page was rendered again");
    assert_eq!(counted("kept").await, kept + 1.0);
    assert!(!amys.contains("alice"), "amy was shown alice's name");
    assert_eq!(amys, alices.replace("alice", "amy"), "amy's page is not alice's with amy's name");
    // Compressed, with a nonce of its own.
    let (gzip_nonce, amys_gzipped) = page(amy.clone(), true).await;
    assert_ne!(gzip_nonce, amy_nonce);
    assert_eq!(amys_gzipped, amys);
    assert_eq!(counted("rendered").await, rendered + 1.0);

    // bob: another initial, the same page, with his name and initial.
    let (_, bobs) = page(bob, false).await;
    assert_eq!(counted("rendered").await, rendered + 1.0, "bob's page was rendered again");
    assert_eq!((initial(&bobs), bobs.contains("Account menu of bob")), (Some('B'), true));
    assert!(!shell_data(&bobs));
    assert!(!bobs.contains("alice") && !bobs.contains("amy"));
    // anna: another team, another page.
    let (_, annas) = page(anna.clone(), false).await;
    assert_eq!(counted("rendered").await, rendered + 2.0, "a member of another team got team A's page");
    assert!(annas.contains("Account menu of anna") && !annas.contains("alice") && !annas.contains("amy"));
    // Each audience's page is kept apart: team A's is still there.
    assert_eq!(page(amy.clone(), false).await.1, amys);
    assert_eq!(counted("rendered").await, rendered + 2.0, "anna's page took the place of team A's");

    // An instance in team A changes team A's count: rendered again for team A (once), not for B.
    app.store.create(app::model::Kind::ServiceInstance, common::process::hdfs("logs")).await.unwrap();
    let (_, amys_after) = page(amy, false).await;
    let (_, alices_after) = page(alice, false).await;
    assert_eq!(amys_after, alices_after.replace("alice", "amy"));
    assert_ne!(alices_after, alices, "the new instance is not counted");
    let (_, annas_after) = page(anna, false).await;
    assert_eq!(annas_after, annas);
    assert_eq!(counted("rendered").await, rendered + 3.0);
    app.stop().await.unwrap();
}

/// A page too large for the cache (over a quarter of its budget) is passed on whole, not kept.
#[tokio::test]
async fn a_page_too_large_to_keep_is_passed_on_whole() {
    let app = catalog_with_page_cache(16 * 1024).await;
    let kept = || page_cache_count(&app, "kept");
    let before = kept().await;
    let mut pages = Vec::new();
    for _ in 0..2 {
        let (status, html) = app.page("/catalog").await;
        assert_eq!(status, 200);
        assert!(
            html.len() > 4 * 1024 && html.len() < 16 * 1024,
            "the page is {} bytes: not between a quarter of the budget and all of it",
            html.len()
        );
        assert!(
            html.contains("data-class=\"hdfs\"")
                && html.contains("</html>")
                && html.trim_end().ends_with("__INCOMPLETE_CHUNKS=[];</script>"),
            "a cut page: …{}",
            &html[html.len() - 200..]
        );
        assert!(html.contains("Account menu of admin") && !has_marker(&html), "the caller's name is not in the page");
        pages.push(html);
    }
    assert_eq!(kept().await, before, "a page over the limit was kept");
    app.stop().await.unwrap();
}

/// `--page-cache-mb 0` renders every request.
#[tokio::test]
async fn the_page_cache_can_be_turned_off() {
    let app = catalog_with_page_cache(0).await;
    let metrics = || page_cache_count(&app, "kept");
    let kept = metrics().await;
    for _ in 0..3 {
        assert_eq!(app.page("/catalog").await.0, 200);
    }
    assert_eq!(metrics().await, kept);
    app.stop().await.unwrap();
}
