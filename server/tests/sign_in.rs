//! Signing in and out over real HTTP: the session cookie's attributes, a new session id at
//! sign-in, the login limit, the one-time password, the CSRF check, the security headers.

mod common;

use common::{
    TestApp,
    people::{PASSWORD, session_cookie, set_cookie},
    ui::quiet_app,
};
use reqwest::header::{COOKIE, ORIGIN, REFERER};
use server::auth::Role;

#[tokio::test]
async fn the_session_cookie_is_http_only_lax_and_renewed_at_sign_in() {
    let app = quiet_app().await;
    app.person("alice", false, &[("team-a", Role::Member)]).await;

    // A page asked for anonymously sends to the login page, remembering where to return.
    let response = app.anonymous.get(app.url("/instances/team-a/logs?tab=1")).send().await.unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/login?next=/instances/team-a/logs%3Ftab%3D1");
    // The login page itself is open, and carries the page CSP with a nonce.
    let response = app.anonymous.get(app.url("/login")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let csp = response.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(csp.contains("script-src 'self' 'nonce-") && csp.contains("frame-ancestors 'none'"), "{csp}");
    let html = response.text().await.unwrap();
    let nonce = csp.split("'nonce-").nth(1).unwrap().split('\'').next().unwrap();
    assert!(html.contains(&format!("nonce=\"{nonce}\"")), "the hydration script carries the CSP's nonce");

    // A session planted before sign-in (a fixation attempt) is not the one after it.
    let planted = "qm_session=AAAAAAAAAAAAAAAAAAAAAA";
    let response = app
        .anonymous
        .post(app.url("/auth/login"))
        .header(ORIGIN, app.origin())
        .header(COOKIE, planted)
        .form(&[("username", "alice"), ("password", PASSWORD), ("next", "/instances/team-a/logs")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/instances/team-a/logs");
    let header = set_cookie(&response).expect("a session cookie");
    assert!(header.contains("HttpOnly"), "{header}");
    assert!(header.contains("SameSite=Lax"), "{header}");
    assert!(header.contains("Path=/"), "{header}");
    assert!(!header.contains("Secure"), "plain http: no Secure flag ({header})");
    assert!(header.contains("Max-Age="), "sessions expire: {header}");
    let first = session_cookie(&response).unwrap();
    assert_ne!(first, planted);

    // Signing in again rotates the id; the old cookie no longer signs anyone in.
    let again = app.login("alice", PASSWORD).await;
    let second = session_cookie(&again).unwrap();
    assert_ne!(first, second);
    assert_eq!(app.shell_info_as(&second).await.status(), 200);
    // (The first session is still alice's own other session: a new one, not an upgraded one.)
    assert_eq!(app.shell_info_as("qm_session=AAAAAAAAAAAAAAAAAAAAAA").await.status(), 401);

    // Sign out: the session is gone from the database, the cookie is worthless.
    let response = app
        .anonymous
        .post(app.url("/auth/logout"))
        .header(COOKIE, second.clone())
        .header(ORIGIN, app.origin())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/login?signed_out=1");
    let cleared = set_cookie(&response).expect("signing out clears the cookie");
    assert!(cleared.starts_with("qm_session=;") && cleared.contains("Max-Age=0"), "{cleared}");
    assert_eq!(app.shell_info_as(&second).await.status(), 401);

    // A wrong password goes back to the form with a reason, and no session.
    let response = app.login("alice", "not the password").await;
    assert_eq!(response.status(), 303);
    assert!(response.headers()["location"].to_str().unwrap().starts_with("/login?error=invalid"));
    assert!(set_cookie(&response).is_none_or(|c| !c.contains("qm_session=") || c.contains("Max-Age=0")));
    app.stop().await.unwrap();
}

#[tokio::test]
async fn https_portals_mark_the_cookie_secure() {
    let app = TestApp::spawn_with(tempfile::tempdir().unwrap(), |c| {
        c.controller = None;
        c.builtin_broker = false;
        c.public_url = "https://portal.example.com".into();
    })
    .await;
    let response = app
        .anonymous
        .post(app.url("/auth/login"))
        .header(ORIGIN, "https://portal.example.com")
        .form(&[("username", "admin"), ("password", common::ADMIN_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert!(set_cookie(&response).unwrap().contains("Secure"));
    app.stop().await.unwrap();
}

#[tokio::test]
async fn sign_in_attempts_are_limited() {
    let app = quiet_app().await;
    app.person("alice", false, &[]).await;
    // Ten a minute (a new one every six seconds): slow password checks may earn a few more.
    let mut attempts = 0;
    loop {
        attempts += 1;
        let response = app.login("alice", "wrong password!").await;
        let location = response.headers()["location"].to_str().unwrap().to_string();
        if location.starts_with("/login?error=throttled") {
            break;
        }
        assert!(location.starts_with("/login?error=invalid"), "{location}");
        assert!(attempts < 25, "never throttled");
    }
    assert!(attempts > 10, "the first ten attempts are all checked ({attempts})");
    // Now even the right password is refused without being looked at.
    let response = app.login("alice", PASSWORD).await;
    assert!(response.headers()["location"].to_str().unwrap().starts_with("/login?error=throttled"));
    assert!(session_cookie(&response).is_none());
    // The login page says so.
    let (_, html) = {
        let r = app.anonymous.get(app.url("/login?error=throttled")).send().await.unwrap();
        (r.status(), r.text().await.unwrap())
    };
    assert!(html.contains("Too many sign-in attempts"), "{html}");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_one_time_password_must_be_changed_first() {
    let app = quiet_app().await;
    app.accounts.create_user("olga", "Olga", Some(PASSWORD), false, true).await.unwrap();
    let response = app.login("olga", PASSWORD).await;
    assert_eq!(response.headers()["location"], "/account/password?next=/instances");
    let cookie = session_cookie(&response).unwrap();
    let get = |path: &str| app.anonymous.get(app.url(path)).header(COOKIE, cookie.clone());
    let post =
        |path: &str| app.anonymous.post(app.url(path)).header(COOKIE, cookie.clone()).header(ORIGIN, app.origin());

    // Nothing else opens until the password is changed.
    let response = get("/instances").send().await.unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/account/password?next=/instances");
    assert_eq!(post("/api/instances").send().await.unwrap().status(), 403);
    assert_eq!(get("/account/password").send().await.unwrap().status(), 200);

    let change = |current: &str, new: &str, confirm: &str| {
        post("/auth/password").form(&[("current", current), ("new", new), ("confirm", confirm), ("next", "/instances")])
    };
    let location = |r: &reqwest::Response| r.headers()["location"].to_str().unwrap().to_string();
    let r = change("wrong password here", "a brand new password", "a brand new password").send().await.unwrap();
    assert!(location(&r).starts_with("/account/password?error=current"), "{}", location(&r));
    let r = change(PASSWORD, "a brand new password", "a brand new passw0rd").send().await.unwrap();
    assert!(location(&r).starts_with("/account/password?error=mismatch"));
    let r = change(PASSWORD, "short", "short").send().await.unwrap();
    assert!(location(&r).starts_with("/account/password?error=short"));
    let r = change(PASSWORD, PASSWORD, PASSWORD).send().await.unwrap();
    assert!(location(&r).starts_with("/account/password?error=same"));
    let (_, html) = {
        let r = get("/account/password?error=mismatch").send().await.unwrap();
        (r.status(), r.text().await.unwrap())
    };
    assert!(html.contains("The new password and its repetition differ."));

    let r = change(PASSWORD, "a brand new password", "a brand new password").send().await.unwrap();
    assert_eq!(location(&r), "/instances?password_changed=1");
    let renewed = session_cookie(&r).expect("the session gets a new id");
    assert_ne!(renewed, cookie);
    // Requests the password page sent just before (a page, a server function, its scripts),
    // answered after the change, must not delete the new cookie in the browser: they are turned
    // away, and leave the cookie alone.
    let late = get("/instances").send().await.unwrap();
    assert_eq!(late.status(), 303, "the old id signs no one in");
    assert_eq!(set_cookie(&late), None, "a late answer leaves the browser's (new) cookie alone");
    let late = post("/api/shell_info").send().await.unwrap();
    assert_eq!(late.status(), 401);
    assert_eq!(set_cookie(&late), None);
    let late = get("/pkg/quartermaster.css").send().await.unwrap();
    assert_eq!(set_cookie(&late), None);
    let r = app.anonymous.get(app.url("/instances")).header(COOKIE, renewed).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(app.login("olga", "a brand new password").await.headers()["location"], "/instances");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn cookie_authenticated_writes_must_come_from_the_portal() {
    let app = quiet_app().await;
    let alice = app.person("alice", false, &[]).await;
    let cookie = session_cookie(&app.login("alice", PASSWORD).await).unwrap();
    let tokens = || async { app.accounts.list_tokens(alice).await.unwrap().len() };
    let create = |name: &str| {
        app.anonymous.post(app.url("/api/create_token")).header(COOKIE, cookie.clone()).form(&[("name", name)])
    };

    // A foreign page's form post: refused before anything runs.
    let response = create("evil").header(ORIGIN, "http://evil.example").send().await.unwrap();
    assert_eq!(response.status(), 403);
    assert!(response.text().await.unwrap().contains("cross-site request refused"));
    // No Origin and no Referer: refused too.
    assert_eq!(create("bare").send().await.unwrap().status(), 403);
    // A foreign Referer (no Origin).
    assert_eq!(create("ref").header(REFERER, "http://evil.example/page").send().await.unwrap().status(), 403);
    assert_eq!(tokens().await, 0, "no refused request created anything");

    // The portal's own pages: allowed (by Origin, or by Referer when a browser sends no Origin).
    assert_eq!(create("own").header(ORIGIN, app.origin()).send().await.unwrap().status(), 200);
    let referer = format!("{}/account/tokens", app.origin());
    assert_eq!(create("own-ref").header(REFERER, referer).send().await.unwrap().status(), 200);
    assert_eq!(tokens().await, 2);
    // The portal reached by another name (localhost for 127.0.0.1): the browser's Origin is the
    // host it addressed.
    let alias = format!("localhost:{}", app.addr.port());
    let response =
        create("alias").header("host", &alias).header(ORIGIN, format!("http://{alias}")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(tokens().await, 3);

    // A script with an API token carries no ambient credentials: no Origin needed.
    let user = app.accounts.user_by_name("alice").await.unwrap().unwrap();
    let (token, _) = app.accounts.create_token(user.id, "script").await.unwrap();
    let response = app
        .anonymous
        .post(app.url("/api/create_token"))
        .bearer_auth(&token)
        .header(ORIGIN, "http://evil.example")
        .form(&[("name", "by-token")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // A revoked or made-up token is refused outright.
    let response = app.anonymous.post(app.url("/api/tokens")).bearer_auth("qm_made_up").send().await.unwrap();
    assert_eq!(response.status(), 401);

    // The login form itself is protected against login CSRF.
    let response = app
        .anonymous
        .post(app.url("/auth/login"))
        .header(ORIGIN, "http://evil.example")
        .form(&[("username", "alice"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn every_answer_carries_the_security_headers() {
    let app = quiet_app().await;
    for path in ["/catalog", "/login", "/api/shell_info", "/pkg/none.css"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        let h = response.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["referrer-policy"], "same-origin", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
    }
    // Health checks are for probes: no session, no sign-in.
    let response = app.anonymous.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers().get("set-cookie").is_none());
    app.stop().await.unwrap();
}

/// Signing in (and failing to), signing out, changing one's password and creating and revoking
/// API tokens are rows of the audit log — on the admin's audit page and in its export — with who,
/// what and from where, and never a password or a token.
#[tokio::test]
async fn sign_in_password_and_token_events_are_audited_without_secrets() {
    let app = quiet_app().await;
    app.person("paula", false, &[("team-a", Role::Member)]).await;
    let wrong = "not paula's password at all";
    let refused = app.login("paula", wrong).await;
    assert!(refused.headers()["location"].to_str().unwrap().starts_with("/login?error=invalid"));

    let paula = app.session_client("paula").await;
    let created: serde_json::Value =
        paula.post(app.url("/api/create_token")).form(&[("name", "ci")]).send().await.unwrap().json().await.unwrap();
    let token = created["Done"]["token"].as_str().unwrap_or_else(|| panic!("{created}")).to_string();
    let token_id = created["Done"]["row"]["id"].as_i64().unwrap().to_string();
    let revoked = paula.post(app.url("/api/revoke_token")).form(&[("id", token_id.as_str())]).send().await.unwrap();
    assert_eq!(revoked.status(), 200);
    assert_eq!(paula.post(app.url("/auth/logout")).send().await.unwrap().status(), 303);

    let new_password = "paula's brand new password";
    let cookie = session_cookie(&app.login("paula", PASSWORD).await).unwrap();
    let changed = app
        .anonymous
        .post(app.url("/auth/password"))
        .header(COOKIE, cookie)
        .header(ORIGIN, app.origin())
        .form(&[("current", PASSWORD), ("new", new_password), ("confirm", new_password), ("next", "/instances")])
        .send()
        .await
        .unwrap();
    assert_eq!(changed.headers()["location"], "/instances?password_changed=1");

    // The admin's view of the log (the audit page's server function), newest first.
    let filter = serde_json::json!({"filter": {"actor": "paula", "action": "", "team": "", "since": "", "until": ""}});
    let (status, entries) = app.call_json("audit", filter).await;
    assert_eq!(status, 200, "{entries}");
    let actions: Vec<&str> = entries.as_array().unwrap().iter().rev().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(
        actions,
        ["login.failed", "login", "token.create", "token.revoke", "logout", "login", "password.change"],
        "{entries}"
    );
    for entry in entries.as_array().unwrap() {
        assert_eq!(entry["source"], "127.0.0.1", "from where: {entry}");
    }
    let created_entry = entries.as_array().unwrap().iter().find(|e| e["action"] == "token.create").unwrap();
    assert_eq!(created_entry["detail"]["name"], "ci");

    // The page and the export show them; no secret is anywhere in the log.
    let (status, html) = app.page("/admin/audit?actor=paula").await;
    assert_eq!(status, 200);
    assert!(html.contains("token.revoke") && html.contains("password.change"), "the audit page lists the events");
    for format in ["csv", "json"] {
        let export = app
            .client
            .get(app.url(&format!("/admin/audit/export?format={format}&actor=paula")))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        for action in ["login.failed", "logout", "token.create", "password.change"] {
            assert!(export.contains(action), "{action} missing in the {format} export:\n{export}");
        }
        for secret in [PASSWORD, wrong, new_password, token.as_str(), &token[..12]] {
            assert!(!export.contains(secret), "a secret in the {format} export:\n{export}");
        }
    }
    app.stop().await.unwrap();
}

/// Sessions expire after a time without use, so a session in use is renewed: its expiry pushed
/// back and its cookie sent again, at most once per `RENEW_EVERY` (not a write per request).
#[tokio::test]
async fn a_session_in_use_is_renewed_about_once_an_hour() {
    use server::auth::guard::{RENEW_EVERY, SESSION_RENEWED};
    use tower_sessions::{SessionStore as _, session::Id};

    let app = quiet_app().await;
    app.person("alice", false, &[("team-a", Role::Member)]).await;
    let cookie = session_cookie(&app.login("alice", PASSWORD).await).unwrap();
    let id: Id = cookie.trim_start_matches("qm_session=").parse().unwrap();
    let store = server::auth::SqlSessionStore::new(app.accounts.database().clone());
    let use_it = || async {
        let response = app.shell_info_as(&cookie).await;
        assert_eq!(response.status(), 200);
        set_cookie(&response)
    };

    // Renewed at sign-in: using it just after writes nothing and sends no cookie.
    let signed_in = store.load(&id).await.unwrap().expect("the session is stored");
    assert!(signed_in.data.contains_key(SESSION_RENEWED));
    assert_eq!(use_it().await, None, "no cookie again within the hour");
    assert_eq!(store.load(&id).await.unwrap().unwrap().expiry_date, signed_in.expiry_date);

    // Last renewed more than an hour ago and about to expire: the next use pushes it back.
    let mut aging = signed_in.clone();
    let then = jiff::Timestamp::now().as_second() - RENEW_EVERY.as_secs() as i64 - 1;
    aging.data.insert(SESSION_RENEWED.into(), serde_json::json!(then));
    aging.expiry_date = time::OffsetDateTime::now_utc() + time::Duration::minutes(1);
    store.save(&aging).await.unwrap();
    let sent = use_it().await.expect("the cookie is sent again");
    assert!(sent.contains("Max-Age=") && !sent.contains("Max-Age=0"), "{sent}");
    let renewed = store.load(&id).await.unwrap().expect("still signed in");
    assert!(renewed.expiry_date > time::OffsetDateTime::now_utc() + time::Duration::hours(11), "{renewed:?}");
    assert!(renewed.data[SESSION_RENEWED].as_i64().unwrap() > then);
    assert_eq!(use_it().await, None, "and not again right after");
    app.stop().await.unwrap();
}
