//! The Kubernetes-style API driven by stock kubectl (`QM_KUBECTL`, else kubectl 1.37 as
//! `./dev.sh setup` installs it, else the one on PATH; see `common::kubelite::kubectl_program`) with a
//! kubeconfig holding a portal API token: discovery and `kubectl explain`, the whole lifecycle
//! of an instance and a binding on the built-in broker, invalid manifests, team isolation, and
//! the API's answers to malformed requests.

mod common;

use std::{
    io::{BufRead, BufReader, Write},
    path::PathBuf,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use app::model::Kind;
use base64::{Engine, engine::general_purpose::STANDARD as B64};
use common::{TestApp, eventually};
use serde_json::{Value, json};
use server::{
    auth::{Accounts, Role},
    config::Config,
    db::Database,
    store::ListQuery,
};

use common::kubelite::kubectl_program;

/// kubectl with one user's kubeconfig.
struct Kubectl {
    kubeconfig: PathBuf,
    cache: PathBuf,
    _dir: tempfile::TempDir,
}

impl Kubectl {
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(kubectl_program());
        command.arg("--kubeconfig").arg(&self.kubeconfig).arg("--cache-dir").arg(&self.cache).args(args);
        command
    }

    /// Runs kubectl off the runtime's threads; (success, stdout, stderr).
    async fn run(&self, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
        let mut command = self.command(args);
        let stdin = stdin.map(str::to_string);
        tokio::task::spawn_blocking(move || {
            let mut child = command
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("kubectl runs (install it, or set QM_KUBECTL)");
            if let Some(input) = stdin {
                child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
            }
            drop(child.stdin.take());
            let out = child.wait_with_output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr)
                .lines()
                .filter(|l| !l.contains("version difference") && !l.contains("version skew"))
                .collect::<Vec<_>>()
                .join("\n");
            (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), stderr)
        })
        .await
        .unwrap()
    }

    async fn ok(&self, args: &[&str], stdin: Option<&str>) -> String {
        let (ok, out, err) = self.run(args, stdin).await;
        assert!(ok, "kubectl {args:?} failed: {err}\n{out}");
        out
    }

    async fn fails(&self, args: &[&str], stdin: Option<&str>) -> String {
        let (ok, out, err) = self.run(args, stdin).await;
        assert!(!ok, "kubectl {args:?} should fail, printed: {out}");
        err
    }
}

struct Setup {
    app: TestApp,
    /// Member of team-a.
    alice: Kubectl,
    alice_token: String,
    /// Member of team-b.
    bob: Kubectl,
}

/// A TLS front for the portal (kubectl sends tokens only over https): a private CA's PEM and
/// the `https://` URL that forwards to the app.
async fn tls_front(app: &TestApp) -> (String, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://127.0.0.1:{}", listener.local_addr().unwrap().port());
    (url, serve_tls(listener, app.addr))
}

/// Serves TLS on `listener` (a certificate for 127.0.0.1 from a fresh private CA), forwarding
/// to `backend`; returns the CA's PEM.
fn serve_tls(listener: tokio::net::TcpListener, backend: std::net::SocketAddr) -> String {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
        KeyUsagePurpose,
    };
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    server::osb::install_crypto_provider();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "Quartermaster test CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    params.distinguished_name.push(DnType::CommonName, "portal");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let cert = params.signed_by(&key, &*ca).unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let config =
        rustls::ServerConfig::builder().with_no_client_auth().with_single_cert(vec![cert.der().clone()], key).unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                let Ok(mut plain) = tokio::net::TcpStream::connect(backend).await else { return };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    ca.pem()
}

async fn user(db: &Database, front: &(String, String), name: &str, team: &str) -> (Kubectl, String) {
    let accounts = Accounts::new(db.clone());
    let user = accounts.create_user(name, name, None, false, false).await.unwrap();
    accounts.set_membership(user.id, team, Role::Member).await.unwrap();
    let (token, _) = accounts.create_token(user.id, "kubectl").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("config");
    let text = server::kapi::kubeconfig::render(&front.0, name, &token, Some(team), Some(&front.1));
    std::fs::write(&kubeconfig, text).unwrap();
    let cache = dir.path().join("cache");
    (Kubectl { kubeconfig, cache, _dir: dir }, token)
}

async fn setup() -> Setup {
    setup_with(|_| {}).await
}

async fn setup_with(adjust: impl FnOnce(&mut Config)) -> Setup {
    let app = TestApp::spawn_with(tempfile::tempdir().unwrap(), adjust).await;
    let db = Database::connect(&Config::for_tests(app.data_dir.path()).database).await.unwrap();
    let accounts = Accounts::new(db.clone());
    // The test app already has team-a (its admin is a member); team-b is new.
    for (team, title) in [("team-a", "Team A"), ("team-b", "Team B")] {
        match accounts.create_team(team, title).await {
            Ok(()) | Err(server::auth::AccountError::Exists(_)) => {}
            Err(e) => panic!("creating {team}: {e}"),
        }
    }
    let front = tls_front(&app).await;
    let (alice, alice_token) = user(&db, &front, "alice", "team-a").await;
    let (bob, _) = user(&db, &front, "bob", "team-b").await;
    catalog_ready(&app).await;
    Setup { app, alice, alice_token, bob }
}

async fn catalog_ready(app: &TestApp) {
    eventually(60, "the built-in broker's catalog", || async {
        let plans = app.store.list(Kind::ClusterServicePlan, &ListQuery::default()).await.unwrap().items;
        plans.iter().any(|p| p["spec"]["externalID"] == "hdfs-shared-7c1e").then_some(())
    })
    .await;
}

const INSTANCE: &str = r#"
apiVersion: servicecatalog.k8s.io/v1beta1
kind: ServiceInstance
metadata:
  name: analytics
  namespace: team-a
  labels:
    app: reports
spec:
  clusterServiceClassExternalName: hdfs
  clusterServicePlanExternalName: shared
  parameters:
    namespaceQuota: 10000
    storageSpaceQuota: 2048
"#;

const BINDING: &str = r#"
apiVersion: servicecatalog.k8s.io/v1beta1
kind: ServiceBinding
metadata:
  name: analytics-creds
  namespace: team-a
spec:
  instanceRef:
    name: analytics
"#;

/// What the built-in broker answers for an instance id.
async fn broker_instance(app: &TestApp, id: &str) -> (u16, Value) {
    let response = app.broker_get(&format!("/v2/service_instances/{id}")).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The tests run the kubectl the issue names (1.37, from the setup) unless told otherwise.
#[test]
fn the_kubectl_under_test_is_the_pinned_one() {
    let program = kubectl_program();
    let out = Command::new(&program).args(["version", "--client"]).output().expect("kubectl runs");
    let version = String::from_utf8_lossy(&out.stdout).into_owned();
    if std::env::var_os("QM_KUBECTL").is_none() {
        assert!(
            version.contains(&format!("Client Version: v{}", common::kubelite::KUBECTL_VERSION)),
            "{program} is not kubectl {} (run ./dev.sh setup): {version}",
            common::kubelite::KUBECTL_VERSION
        );
    }
    eprintln!("kubectl under test: {program}: {}", version.lines().next().unwrap_or(""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn discovery_api_resources_and_explain() {
    let s = setup().await;
    let resources = s.alice.ok(&["api-resources"], None).await;
    let row = resources.lines().find(|l| l.starts_with("serviceinstances")).unwrap_or_else(|| panic!("{resources}"));
    for expected in ["si", "servicecatalog.k8s.io/v1beta1", "true", "ServiceInstance"] {
        assert!(row.split_whitespace().any(|c| c == expected), "{expected} missing in {row:?}");
    }
    assert!(resources.lines().any(|l| l.starts_with("clusterserviceplans") && l.contains("false")), "{resources}");
    assert!(resources.lines().any(|l| l.starts_with("secrets") && l.contains("Secret")), "{resources}");
    let categories = s.alice.ok(&["api-resources", "--categories=servicecatalog", "-o", "name"], None).await;
    assert!(categories.contains("servicebindings.servicecatalog.k8s.io"), "{categories}");

    let explained = s.alice.ok(&["explain", "serviceinstance.spec"], None).await;
    for expected in ["clusterServicePlanExternalName", "parameters", "What the ServiceInstance asks for"] {
        assert!(explained.contains(expected), "{expected} missing in kubectl explain:\n{explained}");
    }
    let explained = s.alice.ok(&["explain", "servicebindings.spec.instanceRef"], None).await;
    assert!(explained.contains("name"), "{explained}");

    // The catalog itself, with its printer columns.
    let plans = s.alice.ok(&["get", "clusterserviceplans"], None).await;
    assert!(plans.lines().next().unwrap().contains("EXTERNAL-NAME"), "{plans}");
    assert!(plans.contains("shared") && plans.contains("dedicated"), "{plans}");
    s.app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kubectl_drives_the_whole_lifecycle() {
    let s = setup().await;
    // `kubectl get si -w` in the background, from before the instance exists.
    let mut watcher =
        s.alice.command(&["get", "si", "-w"]).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let stdout = watcher.stdout.take().unwrap();
    let (lines_tx, mut lines_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });

    let out = s.alice.ok(&["apply", "-f", "-"], Some(INSTANCE)).await;
    assert!(out.contains("serviceinstance.servicecatalog.k8s.io/analytics created"), "{out}");

    // The watch shows it go Ready, with class and plan in its columns.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    loop {
        let line = tokio::time::timeout_at(deadline.into(), lines_rx.recv())
            .await
            .unwrap_or_else(|_| panic!("no Ready row from `kubectl get si -w`; saw:\n{}", seen.join("\n")))
            .expect("kubectl get -w ended");
        seen.push(line.clone());
        if line.starts_with("analytics") && line.contains("ProvisionedSuccessfully") {
            let cells: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(&cells[..5], ["analytics", "hdfs", "shared", "True", "ProvisionedSuccessfully"], "{line}");
            break;
        }
    }
    assert!(seen[0].starts_with("NAME") && seen[0].contains("CLASS") && seen[0].contains("PLAN"), "{seen:?}");
    watcher.kill().unwrap();
    let _ = watcher.wait();

    let table = s.alice.ok(&["get", "si"], None).await;
    assert!(table.contains("analytics") && table.contains("True"), "{table}");
    let id = s.alice.ok(&["get", "si", "analytics", "-o", "jsonpath={.spec.externalID}"], None).await;
    assert_eq!(id.len(), 36, "the API server gave the instance its OSB id: {id}");
    let user = s.alice.ok(&["get", "si", "analytics", "-o", "jsonpath={.spec.userInfo.username}"], None).await;
    assert_eq!(user, "alice", "the request is stamped with who made it");
    assert_eq!(broker_instance(&s.app, &id).await.0, 200, "provisioned at the broker");
    // Label selectors, and applying the same manifest again changes nothing.
    assert!(s.alice.ok(&["get", "si", "-l", "app=reports", "-o", "name"], None).await.contains("analytics"));
    assert!(s.alice.ok(&["get", "si", "-l", "app=other", "-o", "name"], None).await.trim().is_empty());
    let again = s.alice.ok(&["apply", "-f", "-"], Some(INSTANCE)).await;
    assert!(again.contains("unchanged"), "{again}");

    // Bind: the Secret appears, with base64 data as Kubernetes serves it.
    let out = s.alice.ok(&["apply", "-f", "-"], Some(BINDING)).await;
    assert!(out.contains("servicebinding.servicecatalog.k8s.io/analytics-creds created"), "{out}");
    let secret = eventually(60, "the binding's Secret", || async {
        let (ok, out, _) = s.alice.run(&["get", "secret", "analytics-creds", "-o", "yaml"], None).await;
        ok.then_some(out)
    })
    .await;
    let secret: Value = serde_saphyr::from_str(&secret).unwrap();
    assert_eq!(secret["kind"], "Secret");
    let data = secret["data"].as_object().expect("data");
    assert!(!data.is_empty());
    for (key, value) in data {
        let decoded = B64.decode(value.as_str().unwrap()).unwrap_or_else(|_| panic!("{key} is not base64"));
        assert!(!decoded.is_empty());
    }
    let secrets = s.alice.ok(&["get", "secrets"], None).await;
    assert!(secrets.lines().next().unwrap().contains("DATA"), "{secrets}");
    eventually(60, "the binding Ready", || async {
        let out = s.alice.ok(&["get", "sbd", "analytics-creds"], None).await;
        out.contains("True").then_some(())
    })
    .await;

    // Patch the parameters: the update reaches the broker.
    s.alice
        .ok(
            &[
                "patch",
                "si",
                "analytics",
                "--type=merge",
                "-p",
                r#"{"spec":{"parameters":{"storageSpaceQuota":4096}}}"#,
            ],
            None,
        )
        .await;
    eventually(60, "the update to reach the broker", || async {
        let out = s.alice.ok(&["get", "si", "analytics", "-o", "json"], None).await;
        let si: Value = serde_json::from_str(&out).unwrap();
        let done = si.pointer("/status/reconciledGeneration") == Some(&json!(2))
            && si.pointer("/status/externalProperties/parameters/storageSpaceQuota") == Some(&json!(4096));
        done.then_some(())
    })
    .await;
    // A JSON patch too.
    s.alice
        .ok(
            &[
                "patch",
                "si",
                "analytics",
                "--type=json",
                "-p",
                r#"[{"op":"replace","path":"/spec/parameters/namespaceQuota","value":20000}]"#,
            ],
            None,
        )
        .await;
    eventually(60, "the second update", || async {
        let out = s
            .alice
            .ok(
                &["get", "si", "analytics", "-o", "jsonpath={.status.externalProperties.parameters.namespaceQuota}"],
                None,
            )
            .await;
        (out == "20000").then_some(())
    })
    .await;

    // Delete: unbind, then deprovision; kubectl waits until both are gone.
    let out = s.alice.ok(&["delete", "servicebinding", "analytics-creds", "--timeout=60s"], None).await;
    assert!(out.contains("deleted"), "{out}");
    assert!(!s.alice.run(&["get", "secret", "analytics-creds"], None).await.0, "the Secret went with the binding");
    let out = s.alice.ok(&["delete", "-f", "-", "--timeout=60s"], Some(INSTANCE)).await;
    assert!(out.contains("deleted"), "{out}");
    let err = s.alice.fails(&["get", "si", "analytics"], None).await;
    assert!(err.contains("NotFound") || err.contains("not found"), "{err}");
    assert_ne!(broker_instance(&s.app, &id).await.0, 200, "deprovisioned at the broker");
    s.app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn invalid_manifests_are_refused_with_the_field_and_nothing_is_created() {
    let s = setup().await;
    let cases: [(&str, String, &[&str]); 5] = [
        ("bad name", INSTANCE.replace("name: analytics", "name: Bad_Name"), &["is invalid", "metadata.name"]),
        (
            "unknown plan",
            INSTANCE.replace("clusterServicePlanExternalName: shared", "clusterServicePlanExternalName: gold"),
            &["is invalid", "spec.clusterServicePlanExternalName", "gold", "shared"],
        ),
        (
            "unknown class",
            INSTANCE.replace("clusterServiceClassExternalName: hdfs", "clusterServiceClassExternalName: nosuch"),
            &["spec.clusterServiceClassExternalName", "nosuch"],
        ),
        (
            "parameters against the schema",
            INSTANCE.replace("storageSpaceQuota: 2048", "storageSpaceQuota: 5"),
            &["is invalid", "spec.parameters.storageSpaceQuota"],
        ),
        ("unknown field", INSTANCE.replace("  parameters:", "  colour: red\n  parameters:"), &["spec.colour"]),
    ];
    for (what, manifest, expected) in cases {
        let err = s.alice.fails(&["apply", "-f", "-"], Some(&manifest)).await;
        for e in expected {
            assert!(err.contains(e), "{what}: {e:?} missing in kubectl's error:\n{err}");
        }
        assert!(
            s.app.store.list(Kind::ServiceInstance, &ListQuery::default()).await.unwrap().items.is_empty(),
            "{what}: nothing is created"
        );
    }
    // Server-side apply creates and then merges.
    let out = s.alice.ok(&["apply", "--server-side", "-f", "-"], Some(&INSTANCE.replace("analytics", "ssa"))).await;
    assert!(out.contains("serverside-applied"), "{out}");
    let changed = INSTANCE.replace("analytics", "ssa").replace("storageSpaceQuota: 2048", "storageSpaceQuota: 3000");
    s.alice.ok(&["apply", "--server-side", "-f", "-"], Some(&changed)).await;
    let quota = s.alice.ok(&["get", "si", "ssa", "-o", "jsonpath={.spec.parameters.storageSpaceQuota}"], None).await;
    assert_eq!(quota, "3000");
    s.alice.ok(&["delete", "si", "ssa", "--wait=false"], None).await;
    // A binding to an instance that does not exist.
    let err = s.alice.fails(&["apply", "-f", "-"], Some(BINDING)).await;
    assert!(err.contains("spec.instanceRef.name"), "{err}");
    // Server-side dry run goes through every check and stores nothing.
    let out = s.alice.ok(&["apply", "--dry-run=server", "-f", "-"], Some(INSTANCE)).await;
    assert!(out.contains("created (server dry run)"), "{out}");
    let err = s.alice.fails(&["apply", "--dry-run=server", "-f", "-"], Some(&INSTANCE.replace("2048", "1"))).await;
    assert!(err.contains("spec.parameters.storageSpaceQuota"), "{err}");
    assert!(s.app.store.get(Kind::ServiceInstance, "team-a", "analytics").await.unwrap().is_none());
    s.app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_team_cannot_see_another_teams_objects_or_secrets() {
    let s = setup().await;
    s.alice.ok(&["apply", "-f", "-"], Some(INSTANCE)).await;
    s.app
        .store
        .create(
            Kind::Secret,
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db-password", "namespace": "team-a"},
                   "stringData": {"password": "hunter2"}}),
        )
        .await
        .unwrap();
    for args in [
        &["get", "si", "-n", "team-a"][..],
        &["get", "si", "analytics", "-n", "team-a"],
        &["get", "secret", "db-password", "-n", "team-a"],
        &["get", "secrets", "-n", "team-a"],
        &["delete", "si", "analytics", "-n", "team-a"],
    ] {
        let err = s.bob.fails(args, None).await;
        assert!(err.contains("Forbidden") || err.contains("forbidden"), "{args:?}: {err}");
        assert!(!err.contains("hunter2"));
    }
    let err = s.bob.fails(&["apply", "-n", "team-a", "-f", "-"], Some(INSTANCE)).await;
    assert!(err.to_lowercase().contains("forbidden"), "{err}");
    // Across all namespaces bob sees only his own.
    let all = s.bob.ok(&["get", "si", "-A"], None).await;
    assert!(!all.contains("analytics"), "{all}");
    assert!(s.alice.ok(&["get", "si", "-A"], None).await.contains("analytics"));
    // The catalog is for everyone; writing it is not.
    assert!(s.bob.ok(&["get", "clusterserviceclasses"], None).await.contains("hdfs"));
    let err = s.bob.fails(&["delete", "clusterservicebroker", "builtin-broker"], None).await;
    assert!(err.contains("forbidden"), "{err}");
    // No token, or a wrong one: Unauthorized.
    let anonymous =
        s.app.anonymous.get(s.app.url("/apis/servicecatalog.k8s.io/v1beta1/serviceinstances")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let status: Value = anonymous.json().await.unwrap();
    assert_eq!(status["reason"], "Unauthorized");
    let wrong = s
        .app
        .anonymous
        .get(s.app.url("/apis/servicecatalog.k8s.io/v1beta1/serviceinstances"))
        .bearer_auth("qm_not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    s.app.stop().await.unwrap();
}

/// The change log's length in the edge-request test (the default keeps 100,000 changes).
const RETENTION: u64 = 200;

/// The API over plain HTTP: Status objects for bad requests, Tables, watch resume and Gone,
/// selectors and paging, patches, optimistic concurrency, the status subresource.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_api_answers_malformed_and_edge_requests_with_status_objects() {
    let s = setup_with(|c| c.change_log_retention = RETENTION).await;
    let app = &s.app;
    let base = app.url("/apis/servicecatalog.k8s.io/v1beta1/namespaces/team-a/serviceinstances");
    let auth = format!("Bearer {}", s.alice_token);
    let send = |method: reqwest::Method, url: String, content_type: &str, body: Vec<u8>| {
        let request = app
            .client
            .request(method, url)
            .header("Authorization", &auth)
            .header("Content-Type", content_type)
            .body(body);
        async move {
            let response = request.send().await.unwrap();
            let code = response.status().as_u16();
            let text = response.text().await.unwrap();
            (code, serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text)))
        }
    };
    // Malformed JSON and YAML, wrong types, oversized bodies: 4xx with a Status that says why.
    let (code, status) =
        send(reqwest::Method::POST, base.clone(), "application/json", b"{\"metadata\": ".to_vec()).await;
    assert_eq!(
        (code, status["kind"].as_str(), status["reason"].as_str()),
        (400, Some("Status"), Some("BadRequest")),
        "{status}"
    );
    assert!(status["message"].as_str().unwrap().contains("not valid JSON"), "{status}");
    let (code, status) =
        send(reqwest::Method::POST, base.clone(), "application/yaml", b"metadata: [unclosed\n".to_vec()).await;
    assert_eq!(code, 400, "{status}");
    assert!(status["message"].as_str().unwrap().contains("not valid YAML"), "{status}");
    let (code, _) = send(reqwest::Method::POST, base.clone(), "application/json", b"[1, 2]".to_vec()).await;
    assert_eq!(code, 400);
    let huge = vec![b' '; 4 * 1024 * 1024];
    let (code, status) = send(reqwest::Method::POST, base.clone(), "application/json", huge).await;
    assert_eq!((code, status["reason"].as_str()), (413, Some("RequestEntityTooLarge")), "{status}");
    let (code, status) =
        send(reqwest::Method::POST, base.clone(), "application/vnd.kubernetes.protobuf", b"x".to_vec()).await;
    assert_eq!(code, 415, "{status}");

    // Create from YAML (as a pasted manifest), read back as JSON and as a Table.
    let (code, created) =
        send(reqwest::Method::POST, base.clone(), "application/yaml", INSTANCE.as_bytes().to_vec()).await;
    assert_eq!(code, 201, "{created}");
    let rv = created["metadata"]["resourceVersion"].as_str().unwrap().to_string();
    let (code, status) =
        send(reqwest::Method::POST, base.clone(), "application/yaml", INSTANCE.as_bytes().to_vec()).await;
    assert_eq!((code, status["reason"].as_str()), (409, Some("AlreadyExists")), "{status}");
    let (code, status) = send(reqwest::Method::GET, format!("{base}/nosuch"), "", vec![]).await;
    assert_eq!((code, status["reason"].as_str()), (404, Some("NotFound")), "{status}");
    assert_eq!(status["details"]["name"], "nosuch");
    let table: Value = app
        .client
        .get(&base)
        .header("Authorization", &auth)
        .header("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(table["kind"], "Table");
    let columns: Vec<&str> =
        table["columnDefinitions"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(&columns[..6], ["Name", "Class", "Plan", "Ready", "Status", "Age"]);
    assert_eq!(table["rows"][0]["cells"][0], "analytics");

    // PUT with a stale resourceVersion: Conflict; the status subresource is not the user's.
    let mut stale = created.clone();
    stale["metadata"]["labels"]["x"] = json!("y");
    let (code, status) =
        send(reqwest::Method::PUT, format!("{base}/analytics"), "application/json", stale.to_string().into_bytes())
            .await;
    assert!(code == 200 || code == 409, "{status}");
    let (code, status) =
        send(reqwest::Method::PUT, format!("{base}/analytics"), "application/json", stale.to_string().into_bytes())
            .await;
    assert_eq!((code, status["reason"].as_str()), (409, Some("Conflict")), "{status}");
    let (code, status) = send(
        reqwest::Method::PATCH,
        format!("{base}/analytics/status"),
        "application/merge-patch+json",
        br#"{"status":{"provisionStatus":"Provisioned"}}"#.to_vec(),
    )
    .await;
    assert_eq!(code, 403, "{status}");
    // A patch that breaks the schema is Invalid; a JSON patch that does not apply is refused.
    let (code, status) = send(
        reqwest::Method::PATCH,
        format!("{base}/analytics"),
        "application/merge-patch+json",
        br#"{"spec":{"parameters":{"storageSpaceQuota":"lots"}}}"#.to_vec(),
    )
    .await;
    assert_eq!((code, status["reason"].as_str()), (422, Some("Invalid")), "{status}");
    assert_eq!(status["details"]["causes"][0]["field"], "spec.parameters.storageSpaceQuota", "{status}");
    let (code, _) = send(
        reqwest::Method::PATCH,
        format!("{base}/analytics"),
        "application/json-patch+json",
        br#"[{"op":"remove","path":"/spec/nosuch"}]"#.to_vec(),
    )
    .await;
    assert_eq!(code, 422);

    // Watch from the create's version: the later changes arrive; a version long gone is 410.
    let watch = app
        .client
        .get(format!("{base}?watch=true&resourceVersion={rv}&fieldSelector=metadata.name%3Danalytics"))
        .header("Authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(watch.status(), 200);
    let mut stream = watch.bytes_stream();
    use futures::StreamExt;
    let first = tokio::time::timeout(Duration::from_secs(30), stream.next()).await.unwrap().unwrap().unwrap();
    let event: Value = serde_json::from_slice(first.split(|b| *b == b'\n').next().unwrap()).unwrap();
    assert_eq!(event["type"], "MODIFIED", "{event}");
    assert_eq!(event["object"]["metadata"]["name"], "analytics");
    drop(stream);

    // Bookmarks, when asked for, carry the version to resume from.
    let text = app
        .client
        .get(format!("{base}?watch=true&resourceVersion={rv}&allowWatchBookmarks=true&timeoutSeconds=7"))
        .header("Authorization", &auth)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let bookmark = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|e| e["type"] == "BOOKMARK")
        .unwrap_or_else(|| panic!("no bookmark in {text}"));
    let at: u64 = bookmark["object"]["metadata"]["resourceVersion"].as_str().unwrap().parse().unwrap();
    assert!(at >= rv.parse::<u64>().unwrap(), "{bookmark}");

    // A streaming list (client-go's WatchList, kubectl 1.35+): the current objects as ADDED, then
    // a bookmark marking their end, with the version the changes follow from.
    let text = app
        .client
        .get(format!(
            "{base}?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true\
             &fieldSelector=metadata.name%3Danalytics&timeoutSeconds=2"
        ))
        .header("Authorization", &auth)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let events: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(events[0]["type"], "ADDED", "{text}");
    assert_eq!(events[0]["object"]["metadata"]["name"], "analytics", "{text}");
    assert_eq!(events[1]["type"], "BOOKMARK", "{text}");
    assert_eq!(events[1]["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"], "true", "{text}");
    let end: u64 = events[1]["object"]["metadata"]["resourceVersion"].as_str().unwrap().parse().unwrap();
    assert!(end >= rv.parse::<u64>().unwrap(), "{text}");
    let (code, status) = send(
        reqwest::Method::GET,
        format!("{base}?watch=true&sendInitialEvents=true&allowWatchBookmarks=true"),
        "",
        vec![],
    )
    .await;
    assert_eq!(code, 400, "{status}");
    assert!(status["message"].as_str().unwrap().contains("resourceVersionMatch"), "{status}");

    // A version the change log no longer holds: the watch ends with an ERROR event carrying a
    // 410 Expired Status, as an API server answers after etcd compacted it (and client-go then
    // lists again). The log keeps RETENTION changes here; enough writes pass a compaction.
    let mut churn = app
        .store
        .create(Kind::Secret, json!({"metadata": {"name": "churn", "namespace": "team-a"}, "data": {}}))
        .await
        .unwrap();
    let past = (app.store.resource_version().await.unwrap() / RETENTION + 3) * RETENTION + 10;
    let mut n = 0;
    while app.store.resource_version().await.unwrap() < past {
        n += 1;
        churn["metadata"]["labels"] = json!({"n": n.to_string()});
        churn = app.store.update(Kind::Secret, churn).await.unwrap();
    }
    for from in ["1", rv.as_str()] {
        let (code, text) = {
            let r = app
                .client
                .get(format!("{base}?watch=true&resourceVersion={from}&timeoutSeconds=5"))
                .header("Authorization", &auth)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        };
        assert_eq!(code, 200, "{text}");
        let event: Value = serde_json::from_str(text.lines().next().unwrap_or_default())
            .unwrap_or_else(|e| panic!("a watch event, not {text:?}: {e}"));
        assert_eq!(event["type"], "ERROR", "watch from {from}: {text}");
        assert_eq!(
            (&event["object"]["kind"], &event["object"]["code"], &event["object"]["reason"]),
            (&json!("Status"), &json!(410), &json!("Expired")),
            "watch from {from}: {event}"
        );
        assert_eq!(text.lines().count(), 1, "nothing follows the error: {text}");
    }
    // A recent version still resumes (no error within the watch's time).
    let recent = app.store.resource_version().await.unwrap() - 2;
    let text = app
        .client
        .get(format!("{base}?watch=true&resourceVersion={recent}&timeoutSeconds=1"))
        .header("Authorization", &auth)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!text.contains("ERROR"), "{text}");

    // Paging with limit/continue over the catalog's plans.
    let plans_url = app.url("/apis/servicecatalog.k8s.io/v1beta1/clusterserviceplans");
    let (_, page) = send(reqwest::Method::GET, format!("{plans_url}?limit=2"), "", vec![]).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let token = page["metadata"]["continue"].as_str().expect("a continue token").to_string();
    let (_, next) = send(reqwest::Method::GET, format!("{plans_url}?limit=2&continue={token}"), "", vec![]).await;
    assert_ne!(next["items"][0]["metadata"]["name"], page["items"][0]["metadata"]["name"]);
    let (code, _) = send(reqwest::Method::GET, format!("{plans_url}?labelSelector=%3D%3D%3D"), "", vec![]).await;
    assert_eq!(code, 400);
    let (_, filtered) =
        send(reqwest::Method::GET, format!("{plans_url}?fieldSelector=spec.externalName%3Ddedicated"), "", vec![])
            .await;
    assert!(
        filtered["items"].as_array().unwrap().iter().all(|p| p["spec"]["externalName"] == "dedicated"),
        "{filtered}"
    );
    assert!(!filtered["items"].as_array().unwrap().is_empty());

    // The OpenAPI documents and discovery without credentials (they hold no data).
    let v3: Value = app.client.get(app.url("/openapi/v3")).send().await.unwrap().json().await.unwrap();
    let group = v3["paths"]["apis/servicecatalog.k8s.io/v1beta1"]["serverRelativeURL"].as_str().unwrap();
    let doc: Value = app.client.get(app.url(group)).send().await.unwrap().json().await.unwrap();
    assert!(doc["components"]["schemas"]["io.k8s.servicecatalog.v1beta1.ServiceInstance"].is_object());
    let v2: Value = app.client.get(app.url("/openapi/v2")).send().await.unwrap().json().await.unwrap();
    assert_eq!(v2["swagger"], "2.0");
    s.app.stop().await.unwrap();
}

/// An instance made with kubectl reaches the portal's live stream (what the browser watches),
/// and one requested through the portal is there for kubectl.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kubectl_and_the_portal_see_each_others_objects_live() {
    let s = setup().await;
    let response = s.app.client.get(s.app.url("/live/instances?namespace=team-a")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let mut stream = response.bytes_stream();
    s.alice.ok(&["apply", "-f", "-"], Some(INSTANCE)).await;
    use futures::StreamExt;
    let mut seen = String::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !seen.contains("analytics") {
        let chunk =
            tokio::time::timeout_at(deadline.into(), stream.next()).await.expect("the live stream shows the instance");
        seen.push_str(&String::from_utf8_lossy(&chunk.unwrap().unwrap()));
    }
    drop(stream);

    let (code, answer) = s
        .app
        .call_json(
            "request_instance",
            json!({"request": {"namespace": "team-a", "name": "from-portal", "class": "hdfs", "plan": "shared",
                   "parameters": {"namespaceQuota": 5000, "storageSpaceQuota": 1024}}}),
        )
        .await;
    assert_eq!(code, 200, "{answer}");
    let out =
        s.alice.ok(&["get", "si", "from-portal", "-o", "jsonpath={.spec.clusterServicePlanExternalName}"], None).await;
    assert_eq!(out, "shared");
    s.app.stop().await.unwrap();
}

/// The portal's manifest view, download and apply: the same object kubectl sees, the same
/// checks kubectl gets.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn manifests_are_viewed_downloaded_and_applied_in_the_portal() {
    let s = setup().await;
    // Applied through the portal's server function (as the Apply page sends it).
    let (code, answer) = s.app.call_form("apply_manifest", &[("manifest", INSTANCE)]).await;
    assert_eq!(code, 200, "{answer}");
    assert_eq!(answer["Done"][0]["action"], "created", "{answer}");
    assert!(s.alice.ok(&["get", "si", "analytics", "-o", "name"], None).await.contains("analytics"));
    let (_, answer) = s.app.call_form("apply_manifest", &[("manifest", INSTANCE)]).await;
    assert_eq!(answer["Done"][0]["action"], "unchanged", "{answer}");
    let changed = INSTANCE.replace("storageSpaceQuota: 2048", "storageSpaceQuota: 3072");
    let (_, answer) = s.app.call_form("apply_manifest", &[("manifest", &changed)]).await;
    assert_eq!(answer["Done"][0]["action"], "configured", "{answer}");

    // Refusals name the field, as kubectl's do.
    let bad =
        INSTANCE.replace("storageSpaceQuota: 2048", "storageSpaceQuota: 5").replace("name: analytics", "name: other");
    let (_, answer) = s.app.call_form("apply_manifest", &[("manifest", &bad)]).await;
    let rejected = &answer["Rejected"];
    assert!(rejected["message"].as_str().unwrap().contains("is invalid"), "{answer}");
    assert_eq!(rejected["inputs"][0][0], "spec.parameters.storageSpaceQuota", "{answer}");
    let (_, answer) = s.app.call_form("apply_manifest", &[("manifest", "kind: [")]).await;
    assert!(answer["Rejected"]["message"].as_str().unwrap().contains("not valid YAML"), "{answer}");
    let unknown =
        INSTANCE.replace("  parameters:", "  colour: red\n  parameters:").replace("name: analytics", "name: other");
    let (_, answer) = s.app.call_form("apply_manifest", &[("manifest", &unknown)]).await;
    assert_eq!(answer["Rejected"]["inputs"][0][0], "spec.colour", "{answer}");
    assert!(s.app.store.get(Kind::ServiceInstance, "team-a", "other").await.unwrap().is_none());

    // View and download: a manifest that applies again, without what the server filled in.
    let view = s.app.client.get(s.app.url("/manifests/serviceinstances/team-a/analytics")).send().await.unwrap();
    assert_eq!(view.status(), 200);
    assert!(view.headers().get("content-disposition").is_none());
    let yaml = view.text().await.unwrap();
    let manifest: Value = serde_saphyr::from_str(&yaml).unwrap();
    assert_eq!(manifest["spec"]["parameters"]["storageSpaceQuota"], 3072, "{yaml}");
    assert_eq!(manifest["metadata"]["labels"]["app"], "reports");
    for absent in ["uid", "resourceVersion", "externalID", "userInfo", "status", "last-applied"] {
        assert!(!yaml.contains(absent), "{absent} in the manifest:\n{yaml}");
    }
    let download =
        s.app.client.get(s.app.url("/manifests/serviceinstances/team-a/analytics?download=1")).send().await.unwrap();
    let disposition = download.headers()["content-disposition"].to_str().unwrap().to_string();
    assert!(disposition.starts_with("attachment") && disposition.contains("analytics.yaml"), "{disposition}");
    let out = s.alice.ok(&["apply", "-f", "-"], Some(&yaml)).await;
    assert!(out.contains("unchanged") || out.contains("configured"), "{out}");
    let missing = s.app.client.get(s.app.url("/manifests/serviceinstances/team-a/nosuch")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    s.app.stop().await.unwrap();
}

/// The kubeconfig the portal hands out (the instances page's "Download kubeconfig" form posts
/// here) names the portal's https address, the team's namespace and a fresh API token of the
/// person; stock kubectl with it lists the team's instances and is refused another team's.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_downloaded_kubeconfig_drives_kubectl() {
    // The portal's public address is its TLS front's (as behind an ingress).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let public = format!("https://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let app = TestApp::spawn_with(tempfile::tempdir().unwrap(), |c| {
        c.public_url = public.clone();
        c.controller = None;
    })
    .await;
    let ca = serve_tls(listener, app.addr);
    let alice = app.person("alice", false, &[("team-a", Role::Member)]).await;
    app.person("bob", false, &[("team-b", Role::Member)]).await;
    for (namespace, name) in [("team-a", "ours"), ("team-b", "theirs")] {
        let object = json!({"apiVersion": "servicecatalog.k8s.io/v1beta1", "kind": "ServiceInstance",
                            "metadata": {"name": name, "namespace": namespace},
                            "spec": {"clusterServiceClassExternalName": "hdfs", "clusterServicePlanExternalName": "shared"}});
        app.store.create(Kind::ServiceInstance, object).await.unwrap();
    }
    let client = app.token_client("alice").await;

    // The form's post (a URL-encoded body), as the instances page sends it.
    let response = client.post(app.url("/kubeconfig")).form(&[("namespace", "team-a")]).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "application/yaml");
    assert_eq!(headers["cache-control"], "no-store");
    assert!(headers["content-disposition"].to_str().unwrap().contains("quartermaster-team-a.kubeconfig"));
    let text = response.text().await.unwrap();
    let config: Value = serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("not YAML ({e}):\n{text}"));
    assert_eq!(config["kind"], "Config");
    assert_eq!(config["clusters"][0]["cluster"]["server"], public.as_str(), "{text}");
    assert_eq!(config["current-context"], "quartermaster-team-a", "{text}");
    assert_eq!(config["contexts"][0]["context"]["namespace"], "team-a", "{text}");
    assert_eq!(config["contexts"][0]["context"]["user"], "alice", "{text}");
    let token = config["users"][0]["user"]["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("qm_"), "{text}");
    let tokens = app.accounts.list_tokens(alice).await.unwrap();
    let issued = tokens
        .iter()
        .find(|t| t.name == "kubectl team-a")
        .expect("the kubeconfig's token is alice's, named for the team");

    // Refusals: another team's kubeconfig, nobody signed in.
    let other = client.post(app.url("/kubeconfig?namespace=team-b")).send().await.unwrap();
    assert_eq!(other.status(), 403);
    let anonymous = app.anonymous.post(app.url("/kubeconfig")).form(&[("namespace", "team-a")]).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);

    // Stock kubectl with the file as downloaded (the private CA given on the command line).
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("config");
    std::fs::write(&kubeconfig, &text).unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &ca).unwrap();
    let kubectl = Kubectl { kubeconfig, cache: dir.path().join("cache"), _dir: dir };
    let ca_flag = format!("--certificate-authority={}", ca_file.display());
    let listed = kubectl.ok(&[&ca_flag, "get", "serviceinstances", "-o", "name"], None).await;
    assert_eq!(listed.trim(), "serviceinstance.servicecatalog.k8s.io/ours", "{listed}");
    let refused = kubectl.fails(&[&ca_flag, "get", "serviceinstances", "-n", "team-b"], None).await;
    assert!(refused.contains("Forbidden") || refused.contains("forbidden"), "{refused}");
    // Revoking the token (My API tokens) ends the kubeconfig.
    app.accounts.revoke_token(alice, issued.id).await.unwrap();
    let ended = kubectl.fails(&[&ca_flag, "get", "serviceinstances"], None).await;
    assert!(ended.contains("Unauthorized") || ended.contains("must be logged in"), "{ended}");
    app.stop().await.unwrap();
}

/// An instance manifest for team-a with a name, plan and storage.
fn hdfs(name: &str, plan: &str, storage: u64) -> String {
    INSTANCE
        .replace("name: analytics", &format!("name: {name}"))
        .replace("clusterServicePlanExternalName: shared", &format!("clusterServicePlanExternalName: {plan}"))
        .replace("storageSpaceQuota: 2048", &format!("storageSpaceQuota: {storage}"))
}

async fn change_governance(app: &TestApp, change: Value) {
    let (status, answer) = app.call_json("change_governance", json!({ "change": change })).await;
    assert_eq!((status, &answer), (200, &json!({"Done": null})), "{answer}");
}

/// `class/plan` for every plan kubectl lists.
async fn plan_names(kubectl: &Kubectl) -> String {
    let columns = r#"jsonpath={range .items[*]}{.spec.clusterServiceClassRef.name}/{.spec.externalName}{"\n"}{end}"#;
    kubectl.ok(&["get", "clusterserviceplans", "-o", columns], None).await
}

async fn used_storage(app: &TestApp) -> f64 {
    let (status, quota) = app.call_form("quota", &[("namespace", "team-a")]).await;
    assert_eq!(status, 200, "{quota}");
    quota["lines"][0]["used"].as_f64().unwrap_or_else(|| panic!("{quota}"))
}

/// kubectl (and the API and manifest apply behind it) goes through the portal's one admission:
/// a plan hidden from the team is refused and not even listed, a request over the quota is
/// refused with the quota named, a request that needs approval answers 202 with a pending
/// request and no instance (until an admin approves it), and a delete gives the quota back.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kubectl_goes_through_governance_quota_visibility_and_approval() {
    let s = setup().await;
    let app = &s.app;
    change_governance(
        app,
        json!({"PutPolicy": {"id": 0, "class": "hdfs", "plan": "", "operation": "Create",
        "rule": {"Threshold": {"parameter": "storageSpaceQuota", "threshold": 10240.0}}, "approver": "TeamAdmin"}}),
    )
    .await;
    change_governance(
        app,
        json!({"PutQuota": {"team": "team-a", "metric": "Sum", "class": "", "plan": "",
        "parameter": "storageSpaceQuota", "max": 60000.0}}),
    )
    .await;
    change_governance(app, json!({"PutVisibility": {"class": "hdfs", "plan": "dedicated", "team": "team-b"}})).await;

    // Within quota and below the threshold: created at once, and its storage counted.
    let out = s.alice.ok(&["apply", "-f", "-"], Some(&hdfs("small", "shared", 2048))).await;
    assert!(out.contains("serviceinstance.servicecatalog.k8s.io/small created"), "{out}");
    assert_eq!(used_storage(app).await, 2048.0);

    // Hidden plan: refused, named, nothing created; the plan is not listed for team-a either.
    let err = s.alice.fails(&["create", "-f", "-"], Some(&hdfs("secret-plan", "dedicated", 2048))).await;
    assert!(err.contains("Forbidden") && err.contains("no plan \"dedicated\" on offer for team team-a"), "{err}");
    assert!(app.store.get(Kind::ServiceInstance, "team-a", "secret-plan").await.unwrap().is_none());
    let hdfs_plan = |plans: &str, plan: &str| plans.lines().any(|l| l.contains("-hdfs-") && l.ends_with(plan));
    let plans = plan_names(&s.alice).await;
    assert!(hdfs_plan(&plans, "/shared") && !hdfs_plan(&plans, "/dedicated"), "{plans}");
    let plans = plan_names(&s.bob).await;
    assert!(hdfs_plan(&plans, "/dedicated"), "team-b sees the plan shown to it: {plans}");
    // A dry run is refused the same way.
    let err = s.alice.fails(&["create", "--dry-run=server", "-f", "-"], Some(&hdfs("dry", "dedicated", 2048))).await;
    assert!(err.contains("no plan \"dedicated\" on offer"), "{err}");

    // Over the quota (2,048 of 60,000 used): refused with the quota named.
    let err = s.alice.fails(&["create", "-f", "-"], Some(&hdfs("huge", "shared", 59000))).await;
    assert!(err.contains("Forbidden") && err.contains("exceeded quota") && err.contains("57,952 left"), "{err}");
    assert!(app.store.get(Kind::ServiceInstance, "team-a", "huge").await.unwrap().is_none());
    assert_eq!(used_storage(app).await, 2048.0, "a refusal reserves nothing");

    // Above the threshold: 202 Accepted with a Status saying it awaits approval; no instance.
    let response = reqwest::Client::new()
        .post(app.url("/apis/servicecatalog.k8s.io/v1beta1/namespaces/team-a/serviceinstances"))
        .bearer_auth(&s.alice_token)
        .header("Content-Type", "application/yaml")
        .body(hdfs("big", "shared", 20480))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 202);
    let status: Value = response.json().await.unwrap();
    assert_eq!((status["kind"].as_str(), status["code"].as_u64()), (Some("Status"), Some(202)), "{status}");
    assert_eq!(status["reason"], "PendingApproval", "{status}");
    let message = status["message"].as_str().unwrap();
    assert!(message.contains("awaits approval") && message.contains("20,480 is above 10,240"), "{message}");
    assert!(app.store.get(Kind::ServiceInstance, "team-a", "big").await.unwrap().is_none(), "held: no instance");
    assert_eq!(used_storage(app).await, 22528.0, "the pending request reserves its quota");
    // Through kubectl, too: it says the request waits (and, as nothing was created, does not
    // claim success).
    let err = s.alice.fails(&["apply", "-f", "-"], Some(&hdfs("bigger", "shared", 12000))).await;
    assert!(err.contains("awaits approval as request #"), "kubectl said: {err}");
    assert!(app.store.get(Kind::ServiceInstance, "team-a", "bigger").await.unwrap().is_none());
    // Asking again while the request waits: a conflict that says so.
    let err = s.alice.fails(&["create", "-f", "-"], Some(&hdfs("big", "shared", 20480))).await;
    assert!(err.contains("waiting for approval"), "{err}");

    // The admin's queue has it, as requested by alice; approving creates the instance.
    let (_, queue) = app.call_form("approvals", &[]).await;
    let pending = queue["pending"].as_array().unwrap();
    let held = pending.iter().find(|r| r["instance"] == "big").unwrap_or_else(|| panic!("{queue}"));
    assert_eq!((held["team"].as_str(), held["requester"].as_str()), (Some("team-a"), Some("alice")), "{held}");
    let (_, bigger) = app.call_form("approvals", &[]).await;
    let bigger =
        bigger["pending"].as_array().unwrap().iter().find(|r| r["instance"] == "bigger").unwrap()["id"].clone();
    let (status, answer) =
        app.call_json("decide", json!({"decision": {"id": bigger, "approve": false, "comment": "too big"}})).await;
    assert_eq!((status, &answer), (200, &json!({"Done": null})), "{answer}");
    let (status, answer) =
        app.call_json("decide", json!({"decision": {"id": held["id"], "approve": true, "comment": "ok"}})).await;
    assert_eq!((status, &answer), (200, &json!({"Done": null})), "{answer}");
    let user = s.alice.ok(&["get", "si", "big", "-o", "jsonpath={.spec.userInfo.username}"], None).await;
    assert_eq!(user, "alice", "the approved instance exists, stamped with its requester");
    assert_eq!(used_storage(app).await, 22528.0, "the rejected request gave its reservation back");

    // Deleting through kubectl gives the quota back.
    let out = s.alice.ok(&["delete", "si", "small", "--wait=false"], None).await;
    assert!(out.contains("deleted"), "{out}");
    assert_eq!(used_storage(app).await, 20480.0);
    // And the audit log knows who did what through the API.
    let (_, audit) = app
        .call_json("audit", json!({"filter": {"actor": "alice", "action": "", "team": "", "since": "", "until": ""}}))
        .await;
    let actions: Vec<&str> = audit["Done"]
        .as_array()
        .or(audit.as_array())
        .into_iter()
        .flatten()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for expected in ["instance.create", "instance.create.held", "instance.delete"] {
        assert!(actions.contains(&expected), "{expected} missing in the audit log: {audit}");
    }
    s.app.stop().await.unwrap();
}

/// A delete that a policy holds for approval, through the API: answered 202 with a pending
/// request, the instance stays (no deletionTimestamp) and the broker is not asked to
/// deprovision; once a team admin's request is approved the instance is deprovisioned and gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_delete_held_for_approval_waits_for_the_approval_before_the_broker_hears_of_it() {
    let s = setup().await;
    let app = &s.app;
    change_governance(
        app,
        json!({"PutPolicy": {"id": 0, "class": "hdfs", "plan": "", "operation": "Delete", "rule": "Always",
                             "approver": "TeamAdmin"}}),
    )
    .await;
    let base = app.url("/apis/servicecatalog.k8s.io/v1beta1/namespaces/team-a/serviceinstances");
    let alice = reqwest::Client::new();
    let created = alice
        .post(&base)
        .bearer_auth(&s.alice_token)
        .header("Content-Type", "application/yaml")
        .body(hdfs("keeper", "shared", 2048))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201, "a create is not held by a delete policy");
    let ready = eventually(60, "keeper is provisioned", || async {
        let object = app.store.get(Kind::ServiceInstance, "team-a", "keeper").await.unwrap()?;
        (object["status"]["provisionStatus"] == "Provisioned").then_some(object)
    })
    .await;
    let id = ready["spec"]["externalID"].as_str().unwrap().to_string();
    assert_eq!(broker_instance(app, &id).await.0, 200, "the broker has the instance");

    let response = alice.delete(format!("{base}/keeper")).bearer_auth(&s.alice_token).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 202);
    let status: Value = response.json().await.unwrap();
    assert_eq!(
        (status["kind"].as_str(), status["reason"].as_str()),
        (Some("Status"), Some("PendingApproval")),
        "{status}"
    );
    assert!(status["message"].as_str().unwrap().contains("awaits approval"), "{status}");
    let request: i64 = status["details"]["uid"]
        .as_str()
        .and_then(|uid| uid.strip_prefix("approval-request-"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the request's id: {status}"));
    // Held: the instance stays as it was and the broker keeps it, however long the controller runs.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let held = app.store.get(Kind::ServiceInstance, "team-a", "keeper").await.unwrap().expect("still there");
    assert!(held["metadata"]["deletionTimestamp"].is_null(), "{held}");
    assert_eq!(held["status"]["provisionStatus"], "Provisioned", "{held}");
    assert_eq!(broker_instance(app, &id).await.0, 200, "no deprovision reached the broker before approval");
    // kubectl says so too, and the request is in the queue for a team admin of team-a.
    let err = s.alice.fails(&["delete", "si", "keeper", "--wait=false"], None).await;
    assert!(err.contains("awaits approval") || err.contains("waiting for approval"), "{err}");
    let (_, queue) = app.call_form("approvals", &[]).await;
    let pending = queue["pending"].as_array().unwrap();
    let row = pending.iter().find(|r| r["id"] == request).unwrap_or_else(|| panic!("{queue}"));
    assert_eq!((row["instance"].as_str(), row["requester"].as_str()), (Some("keeper"), Some("alice")), "{row}");
    assert_eq!(broker_instance(app, &id).await.0, 200);
    // The audit log has the held delete, with the request and the API it came through.
    let (_, audit) = app
        .call_json("audit", json!({"filter": {"actor": "alice", "action": "", "team": "", "since": "", "until": ""}}))
        .await;
    let held = audit["Done"]
        .as_array()
        .or(audit.as_array())
        .into_iter()
        .flatten()
        .find(|e| e["action"] == "instance.delete.held" && e["target"] == "keeper")
        .unwrap_or_else(|| panic!("no instance.delete.held for keeper in the audit log: {audit}"));
    let detail = held.to_string();
    assert!(detail.contains("kubernetes-api") && detail.contains(&request.to_string()), "{held}");

    // Approved (by the platform admin, through the REST API): deprovisioned and gone.
    let approved = app
        .client
        .post(app.url(&format!("/rest/v1/approvals/{request}/approve")))
        .json(&json!({"comment": "ok"}))
        .send()
        .await
        .unwrap();
    assert_eq!(approved.status(), 200, "{}", approved.text().await.unwrap());
    eventually(60, "keeper is deleted", || async {
        app.store.get(Kind::ServiceInstance, "team-a", "keeper").await.unwrap().is_none().then_some(())
    })
    .await;
    let (code, _) = broker_instance(app, &id).await;
    assert!(code == 404 || code == 410, "the broker deprovisioned it: HTTP {code}");
    s.app.stop().await.unwrap();
}

/// The status subresource through the API: a platform admin (what the controller acts as) may
/// write it, and only the status changes; a team member may read it but not write it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_status_subresource_is_written_by_admins_and_refused_to_members() {
    let app = TestApp::spawn_with(tempfile::tempdir().unwrap(), |c| {
        c.controller = None;
        c.builtin_broker = false;
    })
    .await;
    app.person("alice", false, &[("team-a", Role::Member)]).await;
    let alice = app.token_client("alice").await;
    let instance = json!({"metadata": {"name": "db", "namespace": "team-a"},
                          "spec": {"clusterServiceClassExternalName": "hdfs", "clusterServicePlanExternalName": "shared"}});
    let created = app.store.create(Kind::ServiceInstance, instance).await.unwrap();
    let url = app.url("/apis/servicecatalog.k8s.io/v1beta1/namespaces/team-a/serviceinstances/db/status");
    let patch = json!({"status": {"provisionStatus": "Provisioned", "asyncOpInProgress": false},
                       "spec": {"clusterServicePlanExternalName": "dedicated"}})
    .to_string();
    let send = |client: &reqwest::Client, method: reqwest::Method, content_type: &str, body: String| {
        let request = client.request(method, &url).header("Content-Type", content_type).body(body);
        async move {
            let response = request.send().await.unwrap();
            let code = response.status().as_u16();
            (code, response.json::<Value>().await.unwrap_or(Value::Null))
        }
    };

    // A member: reads it, may not write it (patch or update).
    let (code, read) = send(&alice, reqwest::Method::GET, "", String::new()).await;
    assert_eq!((code, &read["metadata"]["name"]), (200, &json!("db")), "{read}");
    let (code, status) = send(&alice, reqwest::Method::PATCH, "application/merge-patch+json", patch.clone()).await;
    assert_eq!((code, status["reason"].as_str()), (403, Some("Forbidden")), "{status}");
    let mut whole = created.clone();
    whole["status"] = json!({"provisionStatus": "Provisioned"});
    let (code, _) = send(&alice, reqwest::Method::PUT, "application/json", whole.to_string()).await;
    assert_eq!(code, 403);
    let stored = app.store.get(Kind::ServiceInstance, "team-a", "db").await.unwrap().unwrap();
    assert_ne!(stored["status"]["provisionStatus"], "Provisioned", "a refused write changed nothing: {stored}");

    // A platform admin: the status is written; the spec in the same body is not.
    let (code, written) = send(&app.client, reqwest::Method::PATCH, "application/merge-patch+json", patch).await;
    assert_eq!(code, 200, "{written}");
    assert_eq!(written["status"]["provisionStatus"], "Provisioned", "{written}");
    let stored = app.store.get(Kind::ServiceInstance, "team-a", "db").await.unwrap().unwrap();
    assert_eq!(stored["status"]["provisionStatus"], "Provisioned", "{stored}");
    assert_eq!(stored["spec"]["clusterServicePlanExternalName"], "shared", "the status write left the spec: {stored}");
    assert_eq!(stored["metadata"]["generation"], created["metadata"]["generation"], "{stored}");
    // An update of the status with a stale resourceVersion is a conflict.
    let (code, status) = send(&app.client, reqwest::Method::PUT, "application/json", whole.to_string()).await;
    assert_eq!((code, status["reason"].as_str()), (409, Some("Conflict")), "{status}");
    app.stop().await.unwrap();
}
