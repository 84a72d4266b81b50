//! Catalog page SSR throughput: the catalog page as a user first gets it (server-rendered, with
//! the data the browser hydrates from) with 500 services × 4 plans in the store, under 64
//! keep-alive loopback connections; beside an axum hello-world route measured in the same run,
//! in the same process, with the same load generator. Prints a table; asserts nothing.
//!
//! Besides one member asking again and again, it measures many members of one team asking in
//! turn, each one's first request included (the page kept for their audience, with their name).
//!
//! `cargo bench -p quartermaster-server --bench catalog_ssr` (QM_BENCH_SECS sets the seconds per
//! measurement, default 10; QM_BENCH_CONNECTIONS the connections, default 64; QM_BENCH_MEMBERS
//! the members who take turns, default 10,000, in 20 teams).

mod common;

use std::{sync::Arc, time::Instant};

use app::model::Kind;
use serde_json::json;
use server::{Application, config::Config, store::ResourceStore};

use common::{Figures, Until, cores, env_or, header, hello_world, load, load_taking_turns, row};

const SERVICES: usize = 500;
const PLANS_PER_SERVICE: usize = 4;
/// The teams the members who take turns belong to.
const TEAMS: usize = 20;

async fn seed(store: &dyn ResourceStore) {
    store
        .create(
            Kind::ClusterServiceBroker,
            json!({"metadata": {"name": "bench"}, "spec": {"url": "http://bench.invalid"}}),
        )
        .await
        .unwrap();
    let mut broker = store.get(Kind::ClusterServiceBroker, "", "bench").await.unwrap().unwrap();
    broker["status"] = json!({"conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z", "reason": "FetchedCatalog", "message": "ok"}]});
    store.update_status(Kind::ClusterServiceBroker, broker).await.unwrap();
    let tags = ["hadoop", "storage", "streaming", "sql", "cache", "messaging", "batch", "analytics"];
    for s in 0..SERVICES {
        let id = format!("svc-{s:04}");
        store
            .create(
                Kind::ClusterServiceClass,
                json!({
                    "metadata": {"name": id},
                    "spec": {
                        "externalName": format!("service-{s:04}"), "externalID": id,
                        "description": format!("Service number {s}: a quota-limited namespace with its own queue"),
                        "bindable": true, "planUpdatable": true,
                        "tags": [tags[s % tags.len()], tags[(s / 8) % tags.len()]],
                        "externalMetadata": {"displayName": format!("Service {s}"), "providerDisplayName": "Benchmark provider",
                                             "imageUrl": format!("https://icons.example.com/{s}.svg"),
                                             "longDescription": "A long description of the service."},
                        "clusterServiceBrokerName": "bench"
                    }
                }),
            )
            .await
            .unwrap();
        for p in 0..PLANS_PER_SERVICE {
            let plan_id = format!("{id}-plan-{p}");
            store
                .create(
                    Kind::ClusterServicePlan,
                    json!({
                        "metadata": {"name": plan_id},
                        "spec": {
                            "externalName": format!("plan-{p}"), "externalID": plan_id, "description": "A plan", "free": p == 0,
                            "externalMetadata": {"displayName": format!("Plan {p}"), "bullets": ["One", "Two", "Three"],
                                                 "costs": [{"amount": {"usd": 100.0 * p as f64}, "unit": "MONTHLY"}]},
                            "instanceCreateParameterSchema": {"type": "object", "properties": {
                                "storage": {"type": "integer", "title": "Storage (GB)", "minimum": 1024, "maximum": 102400, "default": 2048},
                                "files": {"type": "integer", "title": "Files", "minimum": 1000, "maximum": 100000, "default": 10000}}},
                            "clusterServiceBrokerName": "bench", "clusterServiceClassRef": {"name": id}
                        }
                    }),
                )
                .await
                .unwrap();
        }
    }
}

/// A portal seeded with the bench catalog, serving.
struct Portal {
    addr: std::net::SocketAddr,
    /// A member's `authorization` header.
    bearer: String,
    /// The `authorization` headers of more members of the same team.
    members: Vec<String>,
    store: std::sync::Arc<dyn ResourceStore>,
    stop: tokio::sync::oneshot::Sender<()>,
    running: tokio::task::JoinHandle<anyhow::Result<()>>,
    _data_dir: tempfile::TempDir,
}

/// Starts a [`Portal`] with `members` more members; `page_cache_bytes` 0 renders every request.
async fn portal(page_cache_bytes: usize, members: usize) -> anyhow::Result<Portal> {
    let data_dir = tempfile::tempdir()?;
    let mut config = Config::for_tests(data_dir.path());
    config.controller = None;
    config.builtin_broker = false;
    config.page_cache_bytes = page_cache_bytes;
    config.admin_password = Some(server::config::Redacted("bench-admin-password".into()));
    let app = Application::build(config).await?;
    let addr = app.local_addr();
    let store = app.store();
    // The page as a signed-in member of a team sees it (not an administrator): a bearer token of
    // their own, so every request is identified (token, user and memberships read) as in use.
    let accounts = app.accounts();
    accounts.create_team("team-a", "Team A").await?;
    let member = accounts.create_user("member", "A member", None, false, false).await?;
    accounts.set_membership(member.id, "team-a", server::auth::Role::Member).await?;
    let (token, _) = accounts.create_token(member.id, "bench").await?;
    // More members, in TEAMS teams (team-a among them); their names start with every letter in
    // turn, as people's do (each answer shows its own name and initial).
    let mut bearers = Vec::with_capacity(members);
    let creating = Instant::now();
    for t in 1..TEAMS {
        accounts.create_team(&format!("team-{t:02}"), "A team").await?;
    }
    for i in 0..members {
        let name = format!("{}{i:05}", char::from(b'a' + (i % 26) as u8));
        let team = match i % TEAMS {
            0 => "team-a".to_string(),
            t => format!("team-{t:02}"),
        };
        let user = accounts.create_user(&name, &name, None, false, false).await?;
        accounts.set_membership(user.id, &team, server::auth::Role::Member).await?;
        bearers.push(format!("Bearer {}", accounts.create_token(user.id, "bench").await?.0));
    }
    if members > 0 {
        eprintln!("created {members} more members of {TEAMS} teams in {:.1} s", creating.elapsed().as_secs_f64());
    }
    let seeding = Instant::now();
    seed(store.as_ref()).await;
    eprintln!("seeded {SERVICES} services × {PLANS_PER_SERVICE} plans in {:.1} s", seeding.elapsed().as_secs_f64());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(app.run_until(async move {
        let _ = rx.await;
    }));
    Ok(Portal {
        addr,
        bearer: format!("Bearer {token}"),
        members: bearers,
        store,
        stop: tx,
        running,
        _data_dir: data_dir,
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let secs = env_or("QM_BENCH_SECS", 10);
    let connections = env_or("QM_BENCH_CONNECTIONS", 64) as usize;
    // The portal as configured by default (rendered pages kept while their data is unchanged),
    // and one that renders every request.
    let members = env_or("QM_BENCH_MEMBERS", 10_000) as usize;
    let cached = portal(16 * 1024 * 1024, members).await?;
    let uncached = portal(0, 0).await?;
    let (addr, bearer) = (cached.addr, cached.bearer.clone());
    let signed_in = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;

    // The baseline: axum's hello world, in the same process and runtime.
    let hello_addr = hello_world().await;

    // Sanity: the first page renders the first tiles and offers the rest; `all=1` renders all.
    let get = |path: &str| signed_in.get(format!("http://{addr}{path}")).header("authorization", &bearer).send();
    let page = get("/catalog").await?.error_for_status()?.text().await?;
    let tiles = page.matches("data-testid=\"catalog-tile\"").count();
    assert!(tiles > 0 && tiles < SERVICES, "{tiles} tiles rendered");
    assert!(page.contains(&format!("Show all {SERVICES} services")));
    let all = get("/catalog?all=1").await?.error_for_status()?.text().await?;
    assert_eq!(all.matches("data-testid=\"catalog-tile\"").count(), SERVICES);

    println!();
    println!(
        "catalog SSR benchmark: {SERVICES} services × {PLANS_PER_SERVICE} plans, {connections} connections, {secs} s each, {} cores",
        cores()
    );
    // Each row is set against hello world measured just before it, so that the other load this
    // machine carries, which changes over a run, weighs on both alike.
    header(true);
    let hello = || load(format!("http://{hello_addr}/"), connections, secs, &[]);
    let against = |name: &str, f: &Figures, hello: &Figures| row(name, f, Some(hello));
    let auth = ("authorization", bearer.clone());
    let before = hello().await;
    let catalog = load(format!("http://{addr}/catalog"), connections, secs, std::slice::from_ref(&auth)).await;
    let identity = against("GET /catalog (identity)", &catalog, &before);
    let gzip_headers = [auth.clone(), ("accept-encoding", "gzip".to_string())];
    let before = hello().await;
    let gzip = load(format!("http://{addr}/catalog"), connections, secs, &gzip_headers).await;
    let gzip = against("GET /catalog (gzip, as browsers)", &gzip, &before);
    let before = hello().await;
    let everything = load(format!("http://{addr}/catalog?all=1"), connections, secs, &[auth]).await;
    against("GET /catalog?all=1 (500 tiles)", &everything, &before);

    // Each member's first request, once each, `connections` at a time: every team's page is
    // rendered once, and the requests that arrive meanwhile wait for that render; each request
    // also records its token's first use (written shortly after, many in one transaction).
    let rendered_count = || server::metrics::METRICS.page_cache.with_label_values(&["rendered"]).get();
    let members_once = ("authorization", Arc::new(cached.members.clone()));
    let gzip_only = [("accept-encoding", "gzip".to_string())];
    let url = format!("http://{addr}/catalog");
    let before = hello().await;
    let rendered_before = rendered_count();
    let first_loads =
        load_taking_turns(url.clone(), connections, Until::EachTurnOnce, &gzip_only, Some(members_once.clone())).await;
    let first_renders = rendered_count() - rendered_before;
    let first_loads = against(&format!("first loads, {members} members, {TEAMS} teams (gzip)"), &first_loads, &before);
    // Then a change to what every team's page shows (an instance counted in its navigation), and
    // each member's first request after it.
    for t in 0..TEAMS {
        let team = if t == 0 { "team-a".to_string() } else { format!("team-{t:02}") };
        cached
            .store
            .create(
                Kind::ServiceInstance,
                json!({"metadata": {"name": "changed", "namespace": team},
                       "spec": {"clusterServiceClassExternalName": "service-0000", "clusterServicePlanExternalName": "plan-0"}}),
            )
            .await?;
    }
    let before = hello().await;
    let rendered_before = rendered_count();
    let after_change =
        load_taking_turns(url.clone(), connections, Until::EachTurnOnce, &gzip_only, Some(members_once.clone())).await;
    let change_renders = rendered_count() - rendered_before;
    let after_change = against("the same after a change (gzip)", &after_change, &before);
    let before = hello().await;
    let rendered_before = rendered_count();
    let in_turn = load_taking_turns(url, connections, Until::Measured(secs), &gzip_only, Some(members_once)).await;
    let turn_renders = rendered_count() - rendered_before;
    let in_turn = against(&format!("the {members} in turn (gzip)"), &in_turn, &before);
    let uncached_auth = [("authorization", uncached.bearer.clone())];
    let before = hello().await;
    let rendered = load(format!("http://{}/catalog", uncached.addr), connections, secs, &uncached_auth).await;
    let rendered = against("GET /catalog, every one rendered", &rendered, &before);
    println!();
    println!(
        "catalog/hello-world throughput: {identity:.2}% (identity), {gzip:.2}% (gzip), {first_loads:.2}% (members' first loads), {after_change:.2}% (first loads after a change), {in_turn:.2}% (members in turn), {rendered:.2}% (rendered every time, --page-cache-mb 0); goal ≥ 10%, p99 < 50 ms",
    );
    println!(
        "(the catalog page is kept per audience — members who may see the same things — and URL while its data is unchanged; renders during the members' first loads: {first_renders}, after the change: {change_renders}, while they took turns: {turn_renders}; the last row renders every request)"
    );

    for portal in [cached, uncached] {
        let _ = portal.stop.send(());
        portal.running.await??;
    }
    Ok(())
}
