//! Credentials per binding that look like the service's own (fake hosts in the cluster's DNS
//! domain; nothing is ever connected to them).

use serde_json::{Map, Value, json};

const DOMAIN: &str = "svc.cluster.local";
const REALM: &str = "HADOOP.EXAMPLE.COM";

/// Fresh credentials for a binding of `service` (the catalog name) on an instance.
pub fn for_binding(
    service: &str,
    instance_id: &str,
    binding_id: &str,
    bind_params: &Map<String, Value>,
) -> Map<String, Value> {
    let short = short_id(instance_id);
    let user = format!("qm-{}", short_id(binding_id));
    let password = secret();
    let read_only = bind_params.get("accessMode").and_then(Value::as_str) == Some("read-only");
    let value = match service {
        "hdfs" => json!({
            "uri": format!("hdfs://namenode.hadoop.{DOMAIN}:8020/quartermaster/{short}"),
            "namenode": format!("namenode.hadoop.{DOMAIN}:8020"),
            "path": format!("/quartermaster/{short}"),
            "principal": format!("{user}@{REALM}"),
            "keytab": keytab(&user),
            "yarn_queue": format!("root.quartermaster.{short}"),
            "access_mode": if read_only { "read-only" } else { "read-write" },
        }),
        "hive" => json!({
            "jdbc_url": format!("jdbc:hive2://hiveserver2.hadoop.{DOMAIN}:10000/qm_{short};principal=hive/_HOST@{REALM}"),
            "database": format!("qm_{short}"),
            "principal": format!("{user}@{REALM}"),
            "keytab": keytab(&user),
            "access_mode": if read_only { "read-only" } else { "read-write" },
        }),
        "kafka" => json!({
            "bootstrap_servers": format!("kafka-0.kafka.{DOMAIN}:9093,kafka-1.kafka.{DOMAIN}:9093,kafka-2.kafka.{DOMAIN}:9093"),
            "topic": format!("qm.{short}"),
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": "SCRAM-SHA-512",
            "username": user,
            "password": password,
            "role": bind_params.get("role").and_then(Value::as_str).unwrap_or("both"),
        }),
        "mapreduce" | "spark" => json!({
            "resource_manager": format!("resourcemanager.hadoop.{DOMAIN}:8032"),
            "yarn_queue": format!("root.quartermaster.{short}"),
            "principal": format!("{user}@{REALM}"),
            "keytab": keytab(&user),
            "history_server": format!("http://{}-history.hadoop.{DOMAIN}:18080", if service == "spark" { "spark" } else { "mapred" }),
        }),
        "hbase" => json!({
            "zookeeper_quorum": format!("zk-0.zookeeper.{DOMAIN}:2181,zk-1.zookeeper.{DOMAIN}:2181,zk-2.zookeeper.{DOMAIN}:2181"),
            "zookeeper_znode": "/hbase",
            "namespace": format!("qm_{short}"),
            "principal": format!("{user}@{REALM}"),
            "keytab": keytab(&user),
        }),
        "redis" => json!({
            "uri": format!("redis://default:{password}@redis-{short}.redis.{DOMAIN}:6379/0"),
            "host": format!("redis-{short}.redis.{DOMAIN}"),
            "port": 6379,
            "password": password,
        }),
        "rabbitmq" => json!({
            "uri": format!("amqps://{user}:{password}@rabbitmq.messaging.{DOMAIN}:5671/qm-{short}"),
            "host": format!("rabbitmq.messaging.{DOMAIN}"),
            "port": 5671,
            "vhost": format!("qm-{short}"),
            "username": user,
            "password": password,
            "management_url": format!("https://rabbitmq.messaging.{DOMAIN}:15671/#/vhosts/qm-{short}"),
        }),
        "storm" => json!({
            "nimbus_seeds": format!("nimbus-0.storm.{DOMAIN},nimbus-1.storm.{DOMAIN}"),
            "nimbus_port": 6627,
            "topology_prefix": format!("qm-{short}-"),
            "principal": format!("{user}@{REALM}"),
            "keytab": keytab(&user),
        }),
        _ => json!({"username": user, "password": password}),
    };
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// Eight characters of an id, safe in host names and paths.
fn short_id(id: &str) -> String {
    let clean: String = id.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_lowercase()).collect();
    let mut short: String = clean.chars().take(8).collect();
    if short.is_empty() {
        short = "x".into();
    }
    short
}

fn secret() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A stand-in keytab: base64 of a line naming the principal and a random key.
fn keytab(user: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(format!("keytab {user}@{REALM} aes256-cts {}", secret()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_look_like_the_service() {
        let none = Map::new();
        let hdfs = for_binding("hdfs", "2F8A-11aa-bb", "b-1", &none);
        assert!(hdfs["uri"].as_str().unwrap().starts_with("hdfs://"));
        assert!(hdfs["principal"].as_str().unwrap().ends_with(REALM));
        let kafka = for_binding("kafka", "i", "b", &none);
        assert_eq!(kafka["sasl_mechanism"], "SCRAM-SHA-512");
        assert!(kafka["bootstrap_servers"].as_str().unwrap().contains(":9093"));
        let redis = for_binding("redis", "i", "b", &none);
        assert!(redis["uri"].as_str().unwrap().starts_with("redis://"));
        assert_ne!(for_binding("redis", "i", "b", &none)["password"], redis["password"]);
    }
}
