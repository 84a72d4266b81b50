//! Load and soak: 100 signed-in people (each from its own loopback address, through the login
//! form) use the portal at once against the built-in broker — browse the catalog and instance
//! pages, request an instance, watch it become Ready on the live stream, bind it (the instance
//! page's `create_binding`) and watch the binding become Ready on the same stream, reveal its
//! credentials (`reveal_credentials`, as the page's button does), unbind and watch the binding go,
//! delete the instance and watch it go — rounds begun for 45 s (`QM_LOAD_SECONDS`, `QM_LOAD_USERS`
//! for the long run `./dev.sh bench` makes). Then each requests one last instance, binds it and
//! keeps both.
//!
//! Asserted: no 5xx, no transport error, no request refused, every instance and binding Ready and
//! every unbind and deletion finished (within 120 s each; a binding that fails is reported with its
//! reason), every credential revealed is the built-in broker's (an HDFS URI of that instance's
//! namespace, a Kerberos principal, the access mode asked for); at the end the broker's own
//! database holds exactly the instances and bindings the portal holds, the store exactly one
//! credentials Secret per kept binding (no orphan, no duplicate, nothing lost); memory does not
//! keep growing (the last third's peak within 1.5× of the first third's, plus 64 MB). The figures
//! (operations, latencies, memory) are printed, not asserted.

mod common;
mod osb_support;

use std::{
    collections::BTreeSet,
    net::{IpAddr, Ipv4Addr},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use app::model::{Kind, ServiceBinding, ServiceInstance, condition};
use common::{TestApp, eventually, people::PASSWORD};
use futures::StreamExt;
use reqwest::header::{COOKIE, HeaderMap, HeaderValue, ORIGIN};
use serde_json::{Value, json};
use server::{
    auth::Role,
    store::{ListQuery, TypedStore},
};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Resident memory of this process (the portal runs in it), in MB.
fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// A person's own loopback address (the sign-in limit is per address, as it is for real people).
fn address(i: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 1 + (i / 250) as u8, 1 + (i % 250) as u8))
}

/// Signs `username` in through the login form from `from`; a client with the session cookie and
/// the portal's Origin, as a browser is.
async fn sign_in(app: &TestApp, username: &str, from: IpAddr) -> reqwest::Client {
    let anonymous =
        reqwest::Client::builder().local_address(from).redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let response = anonymous
        .post(app.url("/auth/login"))
        .header(ORIGIN, app.origin())
        .form(&[("username", username), ("password", PASSWORD), ("next", "/catalog")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303, "sign-in of {username}");
    assert_eq!(response.headers()["location"], "/catalog", "sign-in of {username}");
    let cookie = common::people::session_cookie(&response).expect("a session cookie");
    let mut headers = HeaderMap::new();
    headers.insert(COOKIE, HeaderValue::from_str(&cookie).unwrap());
    headers.insert(ORIGIN, HeaderValue::from_str(&app.origin()).unwrap());
    reqwest::Client::builder()
        .local_address(from)
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers)
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap()
}

#[derive(Default)]
struct Tally {
    requests: AtomicU64,
    created: AtomicU64,
    deleted: AtomicU64,
    bound: AtomicU64,
    unbound: AtomicU64,
    /// Credentials revealed and found to be the broker's.
    revealed: AtomicU64,
    errors: Mutex<Vec<String>>,
    /// Milliseconds from "request" answered to Ready seen on the live stream.
    ready_ms: Mutex<Vec<u64>>,
    /// Milliseconds from "bind" answered to the binding Ready seen on the live stream.
    bound_ms: Mutex<Vec<u64>>,
    /// Milliseconds of every page and server-function call.
    call_ms: Mutex<Vec<u64>>,
}

impl Tally {
    fn error(&self, e: String) {
        let mut errors = self.errors.lock().unwrap();
        if errors.len() < 200 {
            errors.push(e);
        }
    }
}

struct User {
    name: String,
    team: String,
    client: reqwest::Client,
}

impl User {
    /// One call; a 2xx (or the 303 of a page) passes, anything else is an error.
    async fn call(&self, tally: &Tally, what: &str, request: reqwest::RequestBuilder) -> Option<String> {
        let started = Instant::now();
        tally.requests.fetch_add(1, Ordering::Relaxed);
        let outcome = match request.send().await {
            Ok(response) => {
                let status = response.status();
                let body = response.text().await.unwrap_or_default();
                if status.is_success() {
                    Ok(body)
                } else {
                    Err(format!("{}: {what}: HTTP {status}: {body:.200}", self.name))
                }
            }
            Err(e) => Err(format!("{}: {what}: {e}", self.name)),
        };
        tally.call_ms.lock().unwrap().push(started.elapsed().as_millis() as u64);
        outcome.map_err(|e| tally.error(e)).ok()
    }

    /// Opens the live stream of one instance.
    async fn watch(
        &self,
        app: &TestApp,
        instance: &str,
    ) -> Option<impl futures::Stream<Item = reqwest::Result<axum::body::Bytes>>> {
        let url = app.url(&format!("/live/instances?namespace={}&instance={instance}", self.team));
        let response = self.client.get(url).timeout(Duration::from_secs(300)).send().await.ok()?;
        response.status().is_success().then(|| response.bytes_stream())
    }
}

/// Reads SSE events from `stream` until `done` accepts one (event name, data), for at most 120 s;
/// returns that event's data.
async fn until(
    stream: &mut (impl futures::Stream<Item = reqwest::Result<axum::body::Bytes>> + Unpin),
    buffer: &mut String,
    done: impl Fn(&str, &str) -> bool,
) -> Result<String, String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        while let Some(end) = buffer.find("\n\n") {
            let event: String = buffer.drain(..end + 2).collect();
            let name = event.lines().find_map(|l| l.strip_prefix("event:")).unwrap_or("").trim().to_string();
            let data: String = event.lines().filter_map(|l| l.strip_prefix("data:")).map(str::trim).collect();
            if done(&name, &data) {
                return Ok(data);
            }
        }
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Err(_) => return Err("no such event within 120 s".into()),
            Ok(None) => return Err("the live stream ended".into()),
            Ok(Some(Err(e))) => return Err(format!("the live stream broke: {e}")),
            Ok(Some(Ok(chunk))) => buffer.push_str(&String::from_utf8_lossy(&chunk).replace("\r\n", "\n")),
        }
    }
}

fn is_ready(name: &str, data: &str) -> bool {
    name == "instance"
        && serde_json::from_str::<ServiceInstance>(data)
            .is_ok_and(|i| condition::is_true(&i.status.conditions, condition::READY))
}

/// The binding `name` has settled: Ready, or Failed (the caller reports why).
fn binding_settled(name: &str) -> impl Fn(&str, &str) -> bool + '_ {
    move |event, data| {
        event == "binding"
            && serde_json::from_str::<ServiceBinding>(data).is_ok_and(|b| {
                b.metadata.name == name
                    && (condition::is_true(&b.status.conditions, condition::READY)
                        || condition::is_true(&b.status.conditions, condition::FAILED))
            })
    }
}

/// The built-in broker's HDFS credentials for a read-only binding of the instance whose OSB id is
/// `instance_id` (see `server::broker::credentials`), or what is wrong with them.
fn check_credentials(answer: &str, instance_id: &str) -> Result<(), String> {
    let answer: Value = serde_json::from_str(answer).map_err(|e| format!("not JSON ({e}): {answer:.200}"))?;
    let text = |key: &str| {
        answer["entries"].as_array().into_iter().flatten().find(|e| e["key"] == key).and_then(|e| e["text"].as_str())
    };
    let short: String =
        instance_id.chars().filter(char::is_ascii_alphanumeric).take(8).collect::<String>().to_lowercase();
    let uri = format!("hdfs://namenode.hadoop.svc.cluster.local:8020/quartermaster/{short}");
    let (Some(got), Some(principal), Some(mode)) = (text("uri"), text("principal"), text("access_mode")) else {
        return Err(format!("no uri, principal or access_mode among {:?}", answer["entries"]));
    };
    if got != uri || !principal.ends_with("@HADOOP.EXAMPLE.COM") || mode != "read-only" {
        return Err(format!("uri {got:?} (wanted {uri:?}), principal {principal:?}, access_mode {mode:?}"));
    }
    Ok(())
}

/// Bind the Ready instance `name` (its OSB id `instance_id`), watch the binding until Ready,
/// reveal its credentials; unless `keep`, unbind and watch it go. `false` after an error (tallied).
async fn bind(
    app: &TestApp,
    user: &User,
    tally: &Tally,
    stream: &mut (impl futures::Stream<Item = reqwest::Result<axum::body::Bytes>> + Unpin),
    buffer: &mut String,
    (name, instance_id): (&str, &str),
    keep: bool,
) -> bool {
    let binding = format!("{name}-creds");
    let body = json!({"request": {"namespace": user.team, "instance": name, "name": binding,
                                  "parameters": {"accessMode": "read-only"}}});
    let Some(answer) =
        user.call(tally, "create_binding", user.client.post(app.url("/api/create_binding")).json(&body)).await
    else {
        return false;
    };
    let answer: Value = serde_json::from_str(&answer).unwrap_or(Value::Null);
    if answer["Done"]["name"] != binding.as_str() {
        tally.error(format!("{}: binding of {name} not done: {answer}", user.name));
        return false;
    }
    tally.bound.fetch_add(1, Ordering::Relaxed);
    let asked = Instant::now();
    let settled = match until(stream, buffer, binding_settled(&binding)).await {
        Ok(data) => serde_json::from_str::<ServiceBinding>(&data).expect("checked by binding_settled"),
        Err(e) => {
            tally.error(format!("{}: {binding} never Ready: {e}", user.name));
            return false;
        }
    };
    if let Some(failed) = condition::find(&settled.status.conditions, condition::FAILED) {
        tally.error(format!("{}: {binding} failed: {}: {}", user.name, failed.reason, failed.message));
        return false;
    }
    tally.bound_ms.lock().unwrap().push(asked.elapsed().as_millis() as u64);
    let form = [("namespace", user.team.as_str()), ("binding", binding.as_str())];
    let Some(credentials) =
        user.call(tally, "reveal_credentials", user.client.post(app.url("/api/reveal_credentials")).form(&form)).await
    else {
        return false;
    };
    if let Err(e) = check_credentials(&credentials, instance_id) {
        tally.error(format!("{}: the credentials of {binding}: {e}", user.name));
        return false;
    }
    tally.revealed.fetch_add(1, Ordering::Relaxed);
    if keep {
        return true;
    }
    let form = [("namespace", user.team.as_str()), ("name", binding.as_str())];
    let Some(answer) =
        user.call(tally, "delete_binding", user.client.post(app.url("/api/delete_binding")).form(&form)).await
    else {
        return false;
    };
    if serde_json::from_str::<Value>(&answer).ok() != Some(json!({"Done": null})) {
        tally.error(format!("{}: unbinding {binding} not done: {answer:.200}", user.name));
        return false;
    }
    let gone = |event: &str, data: &str| {
        event == "binding-deleted" && serde_json::from_str::<Value>(data).is_ok_and(|d| d["name"] == binding.as_str())
    };
    if let Err(e) = until(stream, buffer, gone).await {
        tally.error(format!("{}: {binding} never went: {e}", user.name));
        return false;
    }
    tally.unbound.fetch_add(1, Ordering::Relaxed);
    true
}

/// Request, watch until Ready, bind (see [`bind`]); `keep` both, or unbind, delete and watch until gone.
async fn lifecycle(app: &TestApp, user: &User, tally: &Tally, class: &str, name: &str, keep: bool) {
    let Some(mut stream) = user.watch(app, name).await else {
        return tally.error(format!("{}: the live stream of {name} did not open", user.name));
    };
    let stream = &mut stream;
    let mut buffer = String::new();
    let body = json!({"request": {"namespace": user.team, "name": name, "class": class, "plan": "shared",
                                  "parameters": {"namespaceQuota": 10000, "storageSpaceQuota": 2048}}});
    let Some(answer) =
        user.call(tally, "request_instance", user.client.post(app.url("/api/request_instance")).json(&body)).await
    else {
        return;
    };
    let answer: Value = serde_json::from_str(&answer).unwrap_or(Value::Null);
    if answer["Done"]["name"] != name {
        return tally.error(format!("{}: request of {name} not done: {answer}", user.name));
    }
    tally.created.fetch_add(1, Ordering::Relaxed);
    let asked = Instant::now();
    let instance = match until(stream, &mut buffer, is_ready).await {
        Ok(data) => serde_json::from_str::<ServiceInstance>(&data).expect("checked by is_ready"),
        Err(e) => return tally.error(format!("{}: {name} never Ready: {e}", user.name)),
    };
    tally.ready_ms.lock().unwrap().push(asked.elapsed().as_millis() as u64);
    if !bind(app, user, tally, stream, &mut buffer, (name, &instance.spec.external_id), keep).await || keep {
        return;
    }
    let form = [("namespace", user.team.as_str()), ("name", name)];
    if user
        .call(tally, "delete_instance", user.client.post(app.url("/api/delete_instance")).form(&form))
        .await
        .is_none()
    {
        return;
    }
    if let Err(e) = until(stream, &mut buffer, |event, _| event == "instance-deleted").await {
        return tally.error(format!("{}: {name} never went: {e}", user.name));
    }
    tally.deleted.fetch_add(1, Ordering::Relaxed);
}

async fn browse(app: &TestApp, user: &User, tally: &Tally) {
    user.call(tally, "GET /catalog", user.client.get(app.url("/catalog"))).await;
    let query = json!({"query": {"q": "hdfs", "tag": "", "broker": "", "all": false}});
    user.call(tally, "catalog", user.client.post(app.url("/api/catalog")).json(&query)).await;
    user.call(tally, "GET /instances", user.client.get(app.url("/instances"))).await;
    user.call(tally, "instances", user.client.post(app.url("/api/instances")).form(&[("", "")])).await;
}

fn percentile(values: &mut [u64], p: f64) -> u64 {
    if values.is_empty() {
        return 0;
    }
    values.sort_unstable();
    values[((values.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_people_at_once_lose_nothing() {
    let users = env_or("QM_LOAD_USERS", 100) as usize;
    // 45 s: with binding in each round the short mode lasts about as long as the 60 s did
    // without it (some 75 s of load on 2 shared cores, debug build).
    let seconds = env_or("QM_LOAD_SECONDS", 45);
    let app = Arc::new(TestApp::spawn().await);
    // The built-in broker's catalog in the portal.
    let class = eventually(60, "the built-in broker's hdfs class", || async {
        let classes = app.store.list(Kind::ClusterServiceClass, &ListQuery::default()).await.unwrap().items;
        let hdfs = classes.iter().find(|c| c["spec"]["externalName"] == "hdfs")?;
        let plans = app.store.list(Kind::ClusterServicePlan, &ListQuery::default()).await.unwrap().items;
        plans
            .iter()
            .any(|p| p["spec"]["externalName"] == "shared")
            .then(|| hdfs["metadata"]["name"].as_str().unwrap().to_string())
    })
    .await;
    for t in 0..10.min(users) {
        app.accounts.create_team(&format!("load-{t}"), "Load").await.unwrap();
    }
    let signing_in = Instant::now();
    let people: Vec<Arc<User>> = futures::stream::iter(0..users)
        .map(|i| {
            let app = app.clone();
            async move {
                let name = format!("user-{i}");
                let team = format!("load-{}", i % 10);
                app.person(&name, false, &[(&team, Role::Member)]).await;
                let client = sign_in(&app, &name, address(i)).await;
                Arc::new(User { name, team, client })
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    println!("load: {users} people created and signed in in {:.1} s", signing_in.elapsed().as_secs_f64());
    let tally = Arc::new(Tally::default());
    let rss_start = rss_mb();
    let samples = Arc::new(Mutex::new(Vec::<(f64, f64)>::new()));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let sampler = {
        let samples = samples.clone();
        tokio::spawn(async move {
            loop {
                samples.lock().unwrap().push((started.elapsed().as_secs_f64(), rss_mb()));
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        })
    };
    let mut tasks = Vec::new();
    for user in &people {
        let (app, user, tally, class) = (app.clone(), user.clone(), tally.clone(), class.clone());
        tasks.push(tokio::spawn(async move {
            let mut round = 0;
            while Instant::now() < deadline {
                browse(&app, &user, &tally).await;
                lifecycle(&app, &user, &tally, &class, &format!("{}-r{round}", user.name), false).await;
                round += 1;
            }
            lifecycle(&app, &user, &tally, &class, &format!("{}-kept", user.name), true).await;
        }));
    }
    for task in tasks {
        task.await.expect("a user's task panicked");
    }
    let elapsed = started.elapsed();
    sampler.abort();

    // The portal's instances and the broker's: the same, one each.
    let typed = TypedStore::new(app.store.clone());
    let portal: Vec<ServiceInstance> = typed.list(&ListQuery::default()).await.unwrap();
    let portal_ids: Vec<String> = portal.iter().map(|i| i.spec.external_id.clone()).collect();
    let unique: BTreeSet<String> = portal_ids.iter().cloned().collect();
    let bindings: Vec<ServiceBinding> = typed.list(&ListQuery::default()).await.unwrap();
    let binding_ids: Vec<String> = bindings.iter().map(|b| b.spec.external_id.clone()).collect();
    let unique_bindings: BTreeSet<String> = binding_ids.iter().cloned().collect();
    let secrets = app.store.list(Kind::Secret, &ListQuery::default()).await.unwrap().items;
    let broker_db = app.data_dir.path().join(server::broker::store::FILE_NAME);
    let (broker_ids, broker_bindings) = eventually(60, "the broker to hold what the portal holds", || {
        let (broker_db, unique, unique_bindings) = (broker_db.clone(), unique.clone(), unique_bindings.clone());
        async move {
            let ids = osb_support::broker_db_ids(&broker_db, "SELECT id FROM instances").await;
            let bindings = osb_support::broker_db_ids(&broker_db, "SELECT id FROM bindings").await;
            (ids == unique && bindings == unique_bindings).then_some((ids, bindings))
        }
    })
    .await;

    let samples = samples.lock().unwrap().clone();
    let third = samples.len() / 3;
    let peak = |s: &[(f64, f64)]| s.iter().map(|(_, m)| *m).fold(0.0, f64::max);
    let (first, last) = (peak(&samples[..third.max(1)]), peak(&samples[samples.len().saturating_sub(third.max(1))..]));
    let requests = tally.requests.load(Ordering::Relaxed);
    let mut ready = tally.ready_ms.lock().unwrap().clone();
    let mut calls = tally.call_ms.lock().unwrap().clone();
    let mut bound = tally.bound_ms.lock().unwrap().clone();
    println!("load: {users} signed-in people for {:.0} s", elapsed.as_secs_f64());
    println!(
        "load: {requests} page and server-function calls ({:.0}/s), p50 {} ms, p99 {} ms",
        requests as f64 / elapsed.as_secs_f64(),
        percentile(&mut calls, 0.5),
        percentile(&mut calls, 0.99)
    );
    println!(
        "load: {} instances requested, {} deleted, {} kept; requested to Ready on the live stream p50 {} ms, p99 {} ms",
        tally.created.load(Ordering::Relaxed),
        tally.deleted.load(Ordering::Relaxed),
        portal.len(),
        percentile(&mut ready, 0.5),
        percentile(&mut ready, 0.99)
    );
    println!(
        "load: {} bindings made, {} unbound, {} kept; bound to Ready on the live stream p50 {} ms, p99 {} ms; \
         {} credentials revealed, each the broker's",
        tally.bound.load(Ordering::Relaxed),
        tally.unbound.load(Ordering::Relaxed),
        bindings.len(),
        percentile(&mut bound, 0.5),
        percentile(&mut bound, 0.99),
        tally.revealed.load(Ordering::Relaxed)
    );
    println!(
        "load: memory (RSS of portal + clients, after the 100 sign-ins' password hashing) {rss_start:.0} MB before, peak {first:.0} MB in the first third, \
         {last:.0} MB in the last third, {:.0} MB at the end",
        rss_mb()
    );

    let errors = tally.errors.lock().unwrap().clone();
    assert!(
        errors.is_empty(),
        "{} errors, the first:\n{}",
        errors.len(),
        errors.iter().take(20).cloned().collect::<Vec<_>>().join("\n")
    );
    assert_eq!(portal_ids.len(), unique.len(), "an external id twice in the portal");
    assert_eq!(
        portal.len(),
        users,
        "each person kept exactly one instance: {:?}",
        portal.iter().map(|i| &i.metadata.name).collect::<Vec<_>>()
    );
    assert!(
        portal.iter().all(|i| condition::is_true(&i.status.conditions, condition::READY)),
        "every kept instance Ready"
    );
    assert_eq!(broker_ids.len(), users);
    assert_eq!(binding_ids.len(), unique_bindings.len(), "a binding's external id twice in the portal");
    assert_eq!(
        bindings.len(),
        users,
        "each person kept exactly one binding: {:?}",
        bindings.iter().map(|b| &b.metadata.name).collect::<Vec<_>>()
    );
    assert!(
        bindings
            .iter()
            .all(|b| condition::is_true(&b.status.conditions, condition::READY)
                && b.metadata.deletion_timestamp.is_none()),
        "every kept binding Ready"
    );
    assert_eq!(broker_bindings.len(), users);
    // The teams' Secrets: the portal's own (the built-in broker's auth Secret) are not bindings'.
    let secret_names: BTreeSet<(String, String)> = secrets
        .iter()
        .filter(|s| s["metadata"]["namespace"] != server::portal::SYSTEM_NAMESPACE)
        .map(|s| (s["metadata"]["namespace"].as_str().unwrap().into(), s["metadata"]["name"].as_str().unwrap().into()))
        .collect();
    let wanted: BTreeSet<(String, String)> = bindings
        .iter()
        .map(|b| (b.metadata.namespace.clone().unwrap_or_default(), b.spec.secret_name.clone()))
        .collect();
    assert_eq!(secret_names, wanted, "one credentials Secret per kept binding, none left of the unbound");
    assert!(last <= first * 1.5 + 64.0, "memory kept growing: {first:.0} MB → {last:.0} MB");
    Arc::try_unwrap(app).ok().expect("no one else holds the app").stop().await.unwrap();
}

/// The credentials check tells the broker's credentials for this instance from anything else.
#[test]
fn the_credentials_check_takes_only_the_brokers_own() {
    let instance_id = "5F0C2A9E-77d1-4c3e-9a0b-quartermaster";
    let issued = |instance: &str, mode: &str| {
        let parameters = json!({"accessMode": mode}).as_object().unwrap().clone();
        let credentials = server::broker::credentials::for_binding("hdfs", instance, "b-1", &parameters);
        let entries: Vec<Value> = credentials
            .iter()
            .map(|(key, value)| json!({"key": key, "text": value.as_str().map_or(value.to_string(), str::to_string)}))
            .collect();
        json!({"namespace": "load-0", "secret_name": "x", "entries": entries}).to_string()
    };
    assert_eq!(check_credentials(&issued(instance_id, "read-only"), instance_id), Ok(()));
    assert!(check_credentials(&issued("another-instance", "read-only"), instance_id).is_err());
    assert!(check_credentials(&issued(instance_id, "read-write"), instance_id).is_err());
    assert!(check_credentials(r#"{"entries": []}"#, instance_id).is_err());
    assert!(check_credentials("<html>", instance_id).is_err());
}
