//! The built-in broker's services, in the spirit of a Hadoop capability center.

use serde_json::Value;

use super::catalog::{
    PlanSpec, ServiceSpec, choice, integer, integer_no_default as int_upd, name_pattern, object_schema,
};
use crate::osb::catalog::Service;

pub fn all() -> Vec<Service> {
    vec![hdfs(), hive(), kafka(), mapreduce(), spark(), hbase(), redis(), rabbitmq(), storm()]
}

const HADOOP: (&str, &str) = ("3.3.6", "Hadoop 3.3.6 with the latest security fixes");

fn yarn_queue(default: i64) -> Value {
    integer("YARN queue memory (GB)", "Memory guaranteed to the team's YARN queue, in GB.", 10, 100, default)
}

fn yarn_queue_update() -> Value {
    int_upd("YARN queue memory (GB)", "Memory guaranteed to the team's YARN queue, in GB.", 10, 100)
}

fn hdfs_schema(files: i64, storage: i64, yarn: i64) -> Value {
    object_schema(
        "HDFS namespace",
        vec![
            (
                "namespaceQuota",
                integer(
                    "Namespace quota (files)",
                    "Most files and directories the namespace may hold.",
                    1000,
                    100_000,
                    files,
                ),
            ),
            (
                "storageSpaceQuota",
                integer(
                    "HDFS storage (GB)",
                    "Raw HDFS space the namespace may use, replicas included, in GB.",
                    1024,
                    102_400,
                    storage,
                ),
            ),
            ("yarnQueueQuota", yarn_queue(yarn)),
        ],
        &["namespaceQuota", "storageSpaceQuota"],
    )
}

fn hdfs_update() -> Value {
    object_schema(
        "HDFS namespace",
        vec![
            (
                "namespaceQuota",
                int_upd("Namespace quota (files)", "Most files and directories the namespace may hold.", 1000, 100_000),
            ),
            (
                "storageSpaceQuota",
                int_upd(
                    "HDFS storage (GB)",
                    "Raw HDFS space the namespace may use, replicas included, in GB.",
                    1024,
                    102_400,
                ),
            ),
            ("yarnQueueQuota", yarn_queue_update()),
        ],
        &[],
    )
}

fn access_bind() -> Value {
    object_schema(
        "Access",
        vec![(
            "accessMode",
            choice("Access mode", "What the credentials may do.", &["read-write", "read-only"], "read-write"),
        )],
        &[],
    )
}

fn hdfs() -> Service {
    ServiceSpec {
        id: "6b0f2c4e-hdfs-4d1a-9c53-quartermaster",
        name: "hdfs",
        display_name: "HDFS",
        description: "A quota-limited HDFS namespace with its own YARN queue",
        long_description: "A directory tree on the shared Hadoop cluster with file-count and space quotas, a Kerberos principal per binding and a YARN queue for the jobs that read it.",
        category: "storage",
        tags: &["hadoop", "hdfs", "filesystem"],
        documentation_url: "https://hadoop.apache.org/docs/stable/hadoop-project-dist/hadoop-hdfs/HdfsQuotaAdminGuide.html",
        bindable: true,
    }
    .build(vec![
        PlanSpec {
            id: "hdfs-shared-7c1e",
            name: "shared",
            display_name: "Shared",
            description: "A namespace on the shared cluster",
            bullets: &["Up to 100,000 files", "1,024–102,400 GB of HDFS storage", "Nightly snapshots"],
            monthly_usd: None,
            create: hdfs_schema(10_000, 2048, 20),
            update: hdfs_update(),
            bind: Some(access_bind()),
            maintenance: HADOOP,
        }
        .build(),
        PlanSpec {
            id: "hdfs-dedicated-91ad",
            name: "dedicated",
            display_name: "Dedicated DataNodes",
            description: "A namespace pinned to dedicated DataNodes",
            bullets: &["Dedicated DataNodes", "Storage policy ALL_SSD available", "Hourly snapshots"],
            monthly_usd: Some(450.0),
            create: hdfs_schema(50_000, 10_240, 50),
            update: hdfs_update(),
            bind: Some(access_bind()),
            maintenance: HADOOP,
        }
        .build(),
    ])
}

fn hive_schema(storage: i64, yarn: i64) -> Value {
    object_schema(
        "Hive database",
        vec![
            (
                "databaseName",
                name_pattern(
                    "Database name",
                    "Lowercase letters, digits and underscores; the instance name when empty.",
                ),
            ),
            (
                "hiveStorageQuota",
                integer(
                    "Hive storage (GB)",
                    "Warehouse space for the database's tables, in GB.",
                    1024,
                    102_400,
                    storage,
                ),
            ),
            ("yarnQueueQuota", yarn_queue(yarn)),
        ],
        &["hiveStorageQuota"],
    )
}

fn hive() -> Service {
    let update = object_schema(
        "Hive database",
        vec![
            (
                "hiveStorageQuota",
                int_upd("Hive storage (GB)", "Warehouse space for the database's tables, in GB.", 1024, 102_400),
            ),
            ("yarnQueueQuota", yarn_queue_update()),
        ],
        &[],
    );
    ServiceSpec {
        id: "a3c9e1f0-hive-4b7e-8d21-quartermaster",
        name: "hive",
        display_name: "Hive",
        description: "A Hive database with a warehouse quota",
        long_description: "A database in the shared Hive metastore, its warehouse directory limited by an HDFS quota, queried through HiveServer2 with the binding's principal.",
        category: "sql",
        tags: &["hadoop", "hive", "warehouse"],
        documentation_url: "https://hive.apache.org/docs/latest/",
        bindable: true,
    }
    .build(vec![
        PlanSpec {
            id: "hive-shared-2f4b",
            name: "shared",
            display_name: "Shared metastore",
            description: "A database in the shared metastore",
            bullets: &["1,024–102,400 GB warehouse", "HiveServer2 over Kerberos", "ACID tables"],
            monthly_usd: None,
            create: hive_schema(2048, 20),
            update: update.clone(),
            bind: Some(access_bind()),
            maintenance: ("3.1.3", "Hive 3.1.3"),
        }
        .build(),
        PlanSpec {
            id: "hive-llap-8e30",
            name: "llap",
            display_name: "LLAP",
            description: "A database served by dedicated LLAP daemons",
            bullets: &["Interactive queries with LLAP", "Dedicated daemons", "Result cache"],
            monthly_usd: Some(300.0),
            create: hive_schema(4096, 40),
            update,
            bind: Some(access_bind()),
            maintenance: ("3.1.3", "Hive 3.1.3"),
        }
        .build(),
    ])
}

fn kafka_schema(partitions: i64, replication: i64) -> Value {
    object_schema(
        "Kafka topic",
        vec![
            ("partitions", integer("Partitions", "Number of partitions of the topic.", 1, 64, partitions)),
            ("replicationFactor", integer("Replication factor", "Copies of every partition.", 1, 3, replication)),
            ("retentionHours", integer("Retention (hours)", "How long messages are kept, in hours.", 1, 720, 168)),
            ("topicQuota", integer("Topic quota (GB)", "Most data the topic may hold, in GB.", 1, 100, 10)),
        ],
        &["partitions"],
    )
}

fn kafka() -> Service {
    let update = object_schema(
        "Kafka topic",
        vec![
            ("partitions", int_upd("Partitions", "Partitions can only grow.", 1, 64)),
            ("retentionHours", int_upd("Retention (hours)", "How long messages are kept, in hours.", 1, 720)),
            ("topicQuota", int_upd("Topic quota (GB)", "Most data the topic may hold, in GB.", 1, 100)),
        ],
        &[],
    );
    let bind = object_schema(
        "Client",
        vec![(
            "role",
            choice("Role", "What the credentials may do with the topic.", &["producer", "consumer", "both"], "both"),
        )],
        &[],
    );
    ServiceSpec {
        id: "d41e7b55-kafka-4c0c-b1f9-quartermaster",
        name: "kafka",
        display_name: "Kafka topic",
        description: "A Kafka topic with SASL/SCRAM credentials",
        long_description: "A topic on the shared Kafka cluster with its own partitions, retention and size quota; each binding is a SCRAM user with ACLs on the topic.",
        category: "streaming",
        tags: &["kafka", "messaging", "events"],
        documentation_url: "https://kafka.apache.org/documentation/",
        bindable: true,
    }
    .build(vec![
        PlanSpec {
            id: "kafka-shared-5d2c",
            name: "shared",
            display_name: "Shared cluster",
            description: "A topic on the shared cluster",
            bullets: &["Up to 64 partitions", "Up to 30 days retention", "SASL/SCRAM over TLS"],
            monthly_usd: None,
            create: kafka_schema(3, 3),
            update: update.clone(),
            bind: Some(bind.clone()),
            maintenance: ("3.7.1", "Kafka 3.7.1"),
        }
        .build(),
        PlanSpec {
            id: "kafka-dedicated-0b7a",
            name: "dedicated",
            display_name: "Dedicated brokers",
            description: "A topic on brokers reserved for the team",
            bullets: &["Dedicated brokers", "Rack-aware replicas", "Tiered storage"],
            monthly_usd: Some(600.0),
            create: kafka_schema(12, 3),
            update,
            bind: Some(bind),
            maintenance: ("3.7.1", "Kafka 3.7.1"),
        }
        .build(),
    ])
}

fn queue_schema(title: &str, yarn: i64, max_apps: i64) -> Value {
    object_schema(
        title,
        vec![
            ("yarnQueueQuota", yarn_queue(yarn)),
            (
                "maxApplications",
                integer("Running applications", "Most applications running at once in the queue.", 1, 50, max_apps),
            ),
        ],
        &["yarnQueueQuota"],
    )
}

fn queue_update(title: &str) -> Value {
    object_schema(
        title,
        vec![
            ("yarnQueueQuota", yarn_queue_update()),
            (
                "maxApplications",
                int_upd("Running applications", "Most applications running at once in the queue.", 1, 50),
            ),
        ],
        &[],
    )
}

fn mapreduce() -> Service {
    ServiceSpec {
        id: "0c5d9a3b-mapreduce-47e2-9a8e-quartermaster",
        name: "mapreduce",
        display_name: "MapReduce",
        description: "A YARN queue for MapReduce jobs",
        long_description: "A capacity-scheduler queue with guaranteed memory for MapReduce jobs, submitted with the binding's principal.",
        category: "compute",
        tags: &["hadoop", "yarn", "mapreduce", "batch"],
        documentation_url: "https://hadoop.apache.org/docs/stable/hadoop-yarn/hadoop-yarn-site/CapacityScheduler.html",
        bindable: true,
    }
    .build(vec![
        PlanSpec {
            id: "mapreduce-standard-6f1d",
            name: "standard",
            display_name: "Standard queue",
            description: "A queue with guaranteed memory",
            bullets: &["10–100 GB guaranteed", "Elastic up to twice the guarantee", "Job history kept 7 days"],
            monthly_usd: None,
            create: queue_schema("MapReduce queue", 20, 10),
            update: queue_update("MapReduce queue"),
            bind: None,
            maintenance: HADOOP,
        }
        .build(),
    ])
}

fn spark() -> Service {
    ServiceSpec {
        id: "5e8b2d71-spark-4f3a-a6c4-quartermaster",
        name: "spark",
        display_name: "Spark",
        description: "A YARN queue and history server access for Spark",
        long_description: "A capacity-scheduler queue sized for Spark executors, with event logs kept in the Spark history server.",
        category: "compute",
        tags: &["hadoop", "yarn", "spark", "analytics", "batch"],
        documentation_url: "https://spark.apache.org/docs/latest/running-on-yarn.html",
        bindable: true,
    }
    .build(vec![
        PlanSpec {
            id: "spark-standard-3a9c",
            name: "standard",
            display_name: "Standard",
            description: "A queue for batch Spark jobs",
            bullets: &["10–100 GB guaranteed", "Dynamic allocation", "History server"],
            monthly_usd: None,
            create: queue_schema("Spark queue", 20, 10),
            update: queue_update("Spark queue"),
            bind: None,
            maintenance: ("3.5.1", "Spark 3.5.1 on YARN"),
        }
        .build(),
        PlanSpec {
            id: "spark-large-c27e",
            name: "large",
            display_name: "Large",
            description: "A queue for heavy Spark workloads",
            bullets: &["Preemption protection", "GPU nodes on request", "History server"],
            monthly_usd: Some(250.0),
            create: queue_schema("Spark queue", 60, 30),
            update: queue_update("Spark queue"),
            bind: None,
            maintenance: ("3.5.1", "Spark 3.5.1 on YARN"),
        }
        .build(),
    ])
}

fn hbase() -> Service {
    let create = object_schema(
        "HBase namespace",
        vec![
            ("tableQuota", integer("Tables", "Most tables in the namespace.", 1, 100, 10)),
            ("regionQuota", integer("Regions", "Most regions over all tables.", 10, 1000, 100)),
            (
                "storageSpaceQuota",
                integer("HBase storage (GB)", "Space the namespace's tables may use, in GB.", 1024, 102_400, 1024),
            ),
        ],
        &["tableQuota"],
    );
    let update = object_schema(
        "HBase namespace",
        vec![
            ("tableQuota", int_upd("Tables", "Most tables in the namespace.", 1, 100)),
            ("regionQuota", int_upd("Regions", "Most regions over all tables.", 10, 1000)),
            (
                "storageSpaceQuota",
                int_upd("HBase storage (GB)", "Space the namespace's tables may use, in GB.", 1024, 102_400),
            ),
        ],
        &[],
    );
    ServiceSpec {
        id: "9f2a6c18-hbase-4e55-bb07-quartermaster",
        name: "hbase",
        display_name: "HBase",
        description: "An HBase namespace with table and space quotas",
        long_description: "A namespace on the shared HBase cluster with limits on tables, regions and space.",
        category: "nosql",
        tags: &["hadoop", "hbase", "wide-column"],
        documentation_url: "https://hbase.apache.org/book.html#quota",
        bindable: true,
    }
    .build(vec![
        PlanSpec {
            id: "hbase-shared-4b8f",
            name: "shared",
            display_name: "Shared",
            description: "A namespace on the shared cluster",
            bullets: &["Up to 100 tables", "Up to 1,000 regions", "Replication to the DR site"],
            monthly_usd: None,
            create,
            update,
            bind: Some(access_bind()),
            maintenance: ("2.5.8", "HBase 2.5.8"),
        }
        .build(),
    ])
}

fn redis() -> Service {
    let create = |memory: i64| {
        object_schema(
            "Redis",
            vec![
                ("memoryMB", integer("Memory (MB)", "Memory for the dataset, in MB.", 256, 16_384, memory)),
                ("persistence", choice("Persistence", "How data survives a restart.", &["none", "rdb", "aof"], "rdb")),
            ],
            &[],
        )
    };
    let update = object_schema(
        "Redis",
        vec![
            ("memoryMB", int_upd("Memory (MB)", "Memory for the dataset, in MB.", 256, 16_384)),
            ("persistence", choice("Persistence", "How data survives a restart.", &["none", "rdb", "aof"], "rdb")),
        ],
        &[],
    );
    ServiceSpec {
        id: "1d7c3e9a-redis-4a66-8f12-quartermaster",
        name: "redis",
        display_name: "Redis",
        description: "A Redis database, standalone or replicated",
        long_description: "A password-protected Redis server for caches and queues, with optional persistence.",
        category: "cache",
        tags: &["redis", "key-value", "in-memory"],
        documentation_url: "https://redis.io/docs/latest/",
        bindable: true,
    }
    .build(vec![
        PlanSpec {
            id: "redis-small-8a1b",
            name: "small",
            display_name: "Small",
            description: "A single Redis server",
            bullets: &["256–16,384 MB", "Single node", "Daily backup"],
            monthly_usd: None,
            create: create(256),
            update: update.clone(),
            bind: None,
            maintenance: ("7.2.5", "Redis 7.2.5"),
        }
        .build(),
        PlanSpec {
            id: "redis-ha-3c6d",
            name: "ha",
            display_name: "Highly available",
            description: "A primary with two replicas behind Sentinel",
            bullets: &["Automatic failover", "Two replicas", "Hourly backup"],
            monthly_usd: Some(120.0),
            create: create(2048),
            update,
            bind: None,
            maintenance: ("7.2.5", "Redis 7.2.5"),
        }
        .build(),
    ])
}

fn rabbitmq() -> Service {
    let create = object_schema(
        "RabbitMQ virtual host",
        vec![
            ("maxQueues", integer("Queues", "Most queues in the virtual host.", 1, 500, 50)),
            ("maxConnections", integer("Connections", "Most client connections at once.", 10, 1000, 100)),
        ],
        &[],
    );
    let update = object_schema(
        "RabbitMQ virtual host",
        vec![
            ("maxQueues", int_upd("Queues", "Most queues in the virtual host.", 1, 500)),
            ("maxConnections", int_upd("Connections", "Most client connections at once.", 10, 1000)),
        ],
        &[],
    );
    ServiceSpec {
        id: "7a4f1b2c-rabbitmq-4d8b-9e3a-quartermaster",
        name: "rabbitmq",
        display_name: "RabbitMQ",
        description: "A RabbitMQ virtual host with limits",
        long_description: "A virtual host on the shared RabbitMQ cluster with queue and connection limits; each binding is a user with full rights on the virtual host.",
        category: "messaging",
        tags: &["rabbitmq", "amqp", "queue"],
        documentation_url: "https://www.rabbitmq.com/docs/vhosts",
        bindable: true,
    }
    .build(vec![
        PlanSpec {
            id: "rabbitmq-vhost-5e2a",
            name: "vhost",
            display_name: "Virtual host",
            description: "A virtual host on the shared cluster",
            bullets: &["Up to 500 queues", "Quorum queues", "Management UI access"],
            monthly_usd: None,
            create,
            update,
            bind: None,
            maintenance: ("3.13.2", "RabbitMQ 3.13.2"),
        }
        .build(),
    ])
}

fn storm() -> Service {
    let create = object_schema(
        "Storm topologies",
        vec![
            ("workerSlots", integer("Worker slots", "Supervisor slots reserved for the team's topologies.", 1, 32, 4)),
            ("topologyQuota", integer("Topologies", "Most topologies running at once.", 1, 10, 2)),
        ],
        &["workerSlots"],
    );
    let update = object_schema(
        "Storm topologies",
        vec![
            ("workerSlots", int_upd("Worker slots", "Supervisor slots reserved for the team's topologies.", 1, 32)),
            ("topologyQuota", int_upd("Topologies", "Most topologies running at once.", 1, 10)),
        ],
        &[],
    );
    ServiceSpec {
        id: "4c8e2f6a-storm-4b1d-a7e5-quartermaster",
        name: "storm",
        display_name: "Storm",
        description: "Worker slots on the Storm cluster",
        long_description: "Reserved supervisor slots and a topology prefix on the shared Storm cluster.",
        category: "streaming",
        tags: &["storm", "realtime"],
        documentation_url: "https://storm.apache.org/releases/current/index.html",
        bindable: true,
    }
    .build(vec![
        PlanSpec {
            id: "storm-standard-9d4e",
            name: "standard",
            display_name: "Standard",
            description: "Slots on the shared supervisors",
            bullets: &["1–32 worker slots", "Nimbus HA", "Metrics in Grafana"],
            monthly_usd: None,
            create,
            update,
            bind: None,
            maintenance: ("2.6.2", "Storm 2.6.2"),
        }
        .build(),
    ])
}
