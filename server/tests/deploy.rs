//! The manifests under `deploy/`: every document is a well-formed object of its kind, the RBAC
//! rules grant exactly the calls the portal makes, the ConfigMap's settings are accepted by the
//! portal's own configuration reader, and the API server accepts them (`kubectl apply
//! --dry-run=server`) — those of its kinds it serves: kubelite serves CRDs, Namespaces,
//! ServiceAccounts and ConfigMaps, not Deployments, Services or RBAC, which a real cluster
//! (`KUBECONFIG`) checks too.
#![cfg(feature = "kubernetes")]

mod common;

use std::{collections::BTreeSet, path::PathBuf};

use k8s_openapi::{
    api::{
        apps::v1::Deployment,
        core::v1::{ConfigMap, Namespace, Service, ServiceAccount},
        rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding},
    },
    apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;

fn deploy_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy")
}

/// Every document of every manifest: (file, document).
fn documents() -> Vec<(String, Value)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(deploy_dir())
        .unwrap()
        .chain(std::fs::read_dir(deploy_dir().join("crds")).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let mut docs = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let parsed: Vec<Value> =
            serde_saphyr::from_multiple(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let name = file.strip_prefix(deploy_dir()).unwrap().display().to_string();
        docs.extend(parsed.into_iter().filter(|d| !d.is_null()).map(|d| (name.clone(), d)));
    }
    docs
}

/// The document survives a round trip through its Kubernetes type unchanged: no misspelt or
/// misplaced field (the types drop what they do not know).
fn round_trips<T: Serialize + DeserializeOwned>(file: &str, doc: &Value) {
    let typed: T = serde_json::from_value(doc.clone()).unwrap_or_else(|e| panic!("{file}: {e}"));
    let back = serde_json::to_value(typed).unwrap();
    assert_eq!(&back, doc, "{file}: fields the {} type does not know", doc["kind"]);
}

type Rules = BTreeSet<(String, String, String)>;

fn expand(rules: &[(&str, &[&str], &[&str])]) -> Rules {
    let mut out = Rules::new();
    for (group, resources, verbs) in rules {
        for resource in *resources {
            for verb in *verbs {
                out.insert((group.to_string(), resource.to_string(), verb.to_string()));
            }
        }
    }
    out
}

fn rules_of(doc: &Value) -> Rules {
    let mut out = Rules::new();
    for rule in doc["rules"].as_array().unwrap() {
        let strings =
            |k: &str| rule[k].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect::<Vec<_>>();
        for group in strings("apiGroups") {
            for resource in strings("resources") {
                for verb in strings("verbs") {
                    out.insert((group.clone(), resource.clone(), verb));
                }
            }
        }
    }
    out
}

#[test]
fn manifests_are_well_formed_and_grant_exactly_what_the_portal_uses() {
    let docs = documents();
    let mut kinds = BTreeSet::new();
    for (file, doc) in &docs {
        let kind = doc["kind"].as_str().unwrap_or_else(|| panic!("{file}: no kind")).to_string();
        match kind.as_str() {
            "Namespace" => round_trips::<Namespace>(file, doc),
            "ServiceAccount" => round_trips::<ServiceAccount>(file, doc),
            "ConfigMap" => round_trips::<ConfigMap>(file, doc),
            "Service" => round_trips::<Service>(file, doc),
            "Deployment" => round_trips::<Deployment>(file, doc),
            "ClusterRole" => round_trips::<ClusterRole>(file, doc),
            "ClusterRoleBinding" => round_trips::<ClusterRoleBinding>(file, doc),
            "Role" => round_trips::<Role>(file, doc),
            "RoleBinding" => round_trips::<RoleBinding>(file, doc),
            "CustomResourceDefinition" => round_trips::<CustomResourceDefinition>(file, doc),
            other => panic!("{file}: unexpected kind {other}"),
        }
        kinds.insert(kind);
    }
    for needed in ["CustomResourceDefinition", "Deployment", "Service", "ServiceAccount", "ClusterRole", "ConfigMap"] {
        assert!(kinds.contains(needed), "no {needed} under deploy/");
    }
    let find = |kind: &str| docs.iter().find(|(_, d)| d["kind"] == kind).map(|(_, d)| d.clone()).unwrap();
    assert_eq!(rules_of(&find("ClusterRole")), expand(server::store::kubernetes::PERMISSIONS));
    assert_eq!(rules_of(&find("Role")), expand(server::controller::leader::PERMISSIONS));

    // The ConfigMap's config.toml, read as the portal reads it.
    let toml = find("ConfigMap")["data"]["config.toml"].as_str().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.toml"), toml).unwrap();
    let config = server::config::Config::resolve(server::config::ServeArgs {
        config: Some(dir.path().join("config.toml")),
        ..Default::default()
    })
    .expect("the ConfigMap's settings are valid");
    let server::config::Cluster::Kubernetes(k) = config.cluster else {
        panic!("the deployment runs in kubernetes mode")
    };
    assert_eq!(k.team_namespaces.as_deref(), Some("quartermaster.io/team"));
    // The Deployment mounts that ConfigMap where its args look.
    let deployment = find("Deployment");
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["args"], serde_json::json!(["serve", "--config", "/etc/quartermaster/config.toml"]));
    assert_eq!(deployment["spec"]["template"]["spec"]["serviceAccountName"], "quartermaster");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_server_accepts_the_manifests_it_serves() {
    let Some(cluster) = common::kubelite::cluster("the_api_server_accepts_the_manifests") else { return };
    let client = cluster.client().await;
    let namespaces = cluster.namespaces(&client, &["deploy"]).await;
    let ns = namespaces.name("deploy");
    // `NAME [SHORTNAMES] APIVERSION NAMESPACED KIND` per served resource.
    let table = cluster.kubectl(&["api-resources", "--no-headers"], None);
    let served: BTreeSet<(String, String)> = table
        .lines()
        .filter_map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            (words.len() >= 4).then(|| (words[words.len() - 3].to_string(), words[words.len() - 1].to_string()))
        })
        .collect();
    let serves = |doc: &Value| {
        let key = (
            doc["apiVersion"].as_str().unwrap_or_default().to_string(),
            doc["kind"].as_str().unwrap_or_default().to_string(),
        );
        served.contains(&key)
    };
    let (mut checked, mut unserved) = (Vec::new(), BTreeSet::new());
    for (file, mut doc) in documents() {
        let kind = doc["kind"].as_str().unwrap_or_default().to_string();
        if !serves(&doc) {
            unserved.insert(kind);
            continue;
        }
        // Namespaced objects go to this test's namespace (the portal's own may not exist).
        if doc["metadata"].get("namespace").is_some() {
            doc["metadata"]["namespace"] = Value::String(ns.clone());
        }
        let json = serde_json::to_string(&doc).unwrap();
        let (ok, out, err) = cluster.try_kubectl(&["apply", "--dry-run=server", "-f", "-"], Some(&json));
        assert!(ok, "{file} ({kind}) refused by the API server: {err}");
        assert!(out.contains("(server dry run)"), "{out}");
        checked.push(format!("{file}: {kind}"));
    }
    eprintln!("validated with --dry-run=server: {checked:#?}");
    if !unserved.is_empty() {
        eprintln!("not served by this API server, checked only by type and rules: {unserved:?}");
    }
    for must in ["CustomResourceDefinition", "ConfigMap", "ServiceAccount"] {
        assert!(checked.iter().any(|c| c.ends_with(must)), "{must} was not validated by the server");
    }
}
