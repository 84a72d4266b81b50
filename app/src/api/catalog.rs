//! The catalog's tiles and a class's page.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The whole catalog as the catalog page shows it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CatalogView {
    pub tiles: Vec<ClassTile>,
    /// Every broker, for the broker filter and the error state (a broker that cannot be read).
    pub brokers: Vec<BrokerBrief>,
    /// Every tag of the tiles, sorted, each once (see [`CatalogView::new`]).
    pub tags: Vec<String>,
}

impl CatalogView {
    /// A view of these tiles, with their tags gathered and their search text prepared.
    pub fn new(mut tiles: Vec<ClassTile>, brokers: Vec<BrokerBrief>) -> Self {
        for tile in &mut tiles {
            tile.search_text = tile.searchable();
        }
        let mut tags: Vec<String> = tiles.iter().flat_map(|t| t.tags.iter().cloned()).collect();
        tags.sort();
        tags.dedup();
        Self { tiles, brokers, tags }
    }

    /// What the catalog page shows for a query: the first `first` matching tiles (all of them
    /// with `query.all`), and what the filters need. The tiles are in the view's order.
    pub fn page(&self, query: &CatalogQuery, first: usize) -> CatalogPage {
        let limit = if query.all { usize::MAX } else { first };
        let mut matches = 0;
        let mut tiles = Vec::new();
        for tile in self.tiles.iter().filter(|t| query.keep(t)) {
            matches += 1;
            if tiles.len() < limit {
                tiles.push(tile.clone());
            }
        }
        CatalogPage { tiles, matches, total: self.tiles.len(), tags: self.tags.clone(), brokers: self.brokers.clone() }
    }
}

/// The catalog page's filters, as in its URL (`/catalog?q=&tag=&broker=&all=1`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
pub struct CatalogQuery {
    pub q: String,
    pub tag: String,
    pub broker: String,
    /// Every matching tile, not only the first page of them.
    pub all: bool,
}

impl CatalogQuery {
    pub fn keep(&self, tile: &ClassTile) -> bool {
        tile.matches(&self.q)
            && (self.tag.is_empty() || tile.tags.contains(&self.tag))
            && (self.broker.is_empty() || tile.broker == self.broker)
    }

    /// The URL of the catalog with these filters.
    pub fn url(&self) -> String {
        let mut parts = Vec::new();
        for (key, value) in [("q", &self.q), ("tag", &self.tag), ("broker", &self.broker)] {
            if !value.is_empty() {
                parts.push(format!("{key}={}", encode(value)));
            }
        }
        if self.all {
            parts.push("all=1".to_string());
        }
        if parts.is_empty() { "/catalog".to_string() } else { format!("/catalog?{}", parts.join("&")) }
    }
}

/// Percent-encodes a URL query value.
pub fn encode(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// One screen of the catalog: the tiles to show and the filters' choices.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CatalogPage {
    pub tiles: Vec<ClassTile>,
    /// Tiles matching the query (more than `tiles` when only the first page is shown).
    pub matches: usize,
    /// Every class of the catalog.
    pub total: usize,
    pub tags: Vec<String>,
    pub brokers: Vec<BrokerBrief>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerBrief {
    pub name: String,
    /// Its catalog was fetched and is usable.
    pub ready: bool,
    /// Why not, in the controller's (and broker's) words.
    pub message: String,
}

/// One service class as a tile. Texts are the broker's: untrusted, rendered as text only.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassTile {
    /// The class object's name.
    pub name: String,
    /// The URL segment: the external name when it is unique and URL-safe, else the object name.
    pub slug: String,
    pub external_name: String,
    pub display_name: String,
    pub provider: String,
    pub description: String,
    /// As the broker sent it; the page decides whether it may be shown (`components::safe`).
    pub image_url: String,
    pub tags: Vec<String>,
    pub broker: String,
    pub plans: usize,
    /// At least one plan is free.
    pub has_free_plan: bool,
    /// The broker no longer offers it: marked, not offered.
    pub removed: bool,
    /// Lower-case text searched by [`ClassTile::matches`], prepared once where tiles are built
    /// (the server); not sent.
    #[serde(skip)]
    pub search_text: String,
}

impl ClassTile {
    /// The text a search looks in: name, description, provider and tags, in lower case.
    pub fn searchable(&self) -> String {
        format!(
            "{} {} {} {} {}",
            self.display_name,
            self.external_name,
            self.description,
            self.provider,
            self.tags.join(" ")
        )
        .to_lowercase()
    }

    /// Whether the tile matches a search: every word in the name, description, provider or tags.
    pub fn matches(&self, query: &str) -> bool {
        if query.trim().is_empty() {
            return true;
        }
        let prepared;
        let haystack = if self.search_text.is_empty() {
            prepared = self.searchable();
            &prepared
        } else {
            &self.search_text
        };
        query.split_whitespace().all(|word| haystack.contains(&word.to_lowercase()))
    }
}

/// A class's page: everything about it, and its plans side by side.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ClassDetail {
    pub tile: ClassTile,
    pub long_description: String,
    pub documentation_url: String,
    pub support_url: String,
    pub bindable: bool,
    pub plan_updatable: bool,
    pub plans: Vec<PlanInfo>,
}

impl ClassDetail {
    pub fn plan(&self, external_name: &str) -> Option<&PlanInfo> {
        self.plans.iter().find(|p| p.external_name == external_name)
    }

    /// The plans a person may choose now (not removed from the broker's catalog).
    pub fn offered_plans(&self) -> impl Iterator<Item = &PlanInfo> {
        self.plans.iter().filter(|p| !p.removed)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PlanInfo {
    pub name: String,
    pub external_name: String,
    pub display_name: String,
    pub description: String,
    pub bullets: Vec<String>,
    /// Readable prices ("$450.00 / month").
    pub costs: Vec<String>,
    pub free: bool,
    pub bindable: bool,
    pub updatable: bool,
    pub create_schema: Option<Value>,
    pub update_schema: Option<Value>,
    pub binding_schema: Option<Value>,
    /// What is wrong with the plan's schemas (from the broker's last catalog).
    pub problems: Vec<String>,
    pub removed: bool,
    /// "3.3.6 — Hadoop 3.3.6 with the latest security fixes"
    pub maintenance: String,
}

/// Readable prices from OSB `costs` (`[{"amount": {"usd": 450.0}, "unit": "MONTHLY"}]`).
pub fn format_costs(costs: &Value) -> Vec<String> {
    let Some(costs) = costs.as_array() else { return Vec::new() };
    costs
        .iter()
        .flat_map(|cost| {
            let unit = cost.get("unit").and_then(Value::as_str).unwrap_or_default();
            let per = match unit.to_ascii_uppercase().as_str() {
                "MONTHLY" | "MONTH" => " / month".to_string(),
                "HOURLY" | "HOUR" => " / hour".to_string(),
                "DAILY" | "DAY" => " / day".to_string(),
                "YEARLY" | "YEAR" => " / year".to_string(),
                "" => String::new(),
                other => format!(" / {}", other.to_lowercase()),
            };
            let amounts: Vec<(String, f64)> = cost
                .get("amount")
                .and_then(Value::as_object)
                .map(|m| m.iter().filter_map(|(c, a)| Some((c.clone(), a.as_f64()?))).collect())
                .unwrap_or_default();
            amounts.into_iter().map(move |(currency, amount)| {
                let cents = (amount * 100.0).round() as i64;
                let whole = crate::schema_form::units::format_number((cents / 100) as f64);
                let number = format!("{whole}.{:02}", (cents % 100).abs());
                let price = match currency.to_ascii_lowercase().as_str() {
                    "usd" => format!("${number}"),
                    "eur" => format!("€{number}"),
                    "gbp" => format!("£{number}"),
                    other => format!("{number} {}", other.to_uppercase()),
                };
                format!("{price}{per}")
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn costs_read_like_prices() {
        assert_eq!(format_costs(&json!([{"amount": {"usd": 450.0}, "unit": "MONTHLY"}])), ["$450.00 / month"]);
        assert_eq!(format_costs(&json!([{"amount": {"eur": 0.5, "chf": 2}, "unit": "per GB"}])).len(), 2);
        assert_eq!(format_costs(&json!([{"amount": {"chf": 1200}, "unit": "HOURLY"}])), ["1,200.00 CHF / hour"]);
        assert!(format_costs(&json!("nonsense")).is_empty());
    }

    #[test]
    fn pages_carry_the_first_matches_and_urls_round_trip() {
        let view = CatalogView::new(
            (0..100)
                .map(|i| ClassTile {
                    name: format!("c{i}"),
                    display_name: format!("Service {i}"),
                    tags: vec![if i % 2 == 0 { "even".into() } else { "odd".into() }],
                    ..Default::default()
                })
                .collect(),
            Vec::new(),
        );
        assert_eq!(view.tags, ["even", "odd"]);
        assert!(view.tiles[0].matches("SERVICE 0"));
        let page = view.page(&CatalogQuery::default(), 60);
        assert_eq!((page.tiles.len(), page.matches, page.total), (60, 100, 100));
        let even = CatalogQuery { tag: "even".into(), ..Default::default() };
        assert_eq!(view.page(&even, 60).matches, 50);
        let all = CatalogQuery { all: true, ..Default::default() };
        assert_eq!(view.page(&all, 60).tiles.len(), 100);
        let q = CatalogQuery { q: "hdfs quota".into(), tag: "big data".into(), broker: String::new(), all: true };
        assert_eq!(q.url(), "/catalog?q=hdfs%20quota&tag=big%20data&all=1");
        assert_eq!(CatalogQuery::default().url(), "/catalog");
        assert_eq!(encode("a&b=c"), "a%26b%3Dc");
    }

    #[test]
    fn search_matches_every_word_anywhere() {
        let tile = ClassTile {
            display_name: "HDFS".into(),
            description: "A quota-limited namespace".into(),
            tags: vec!["hadoop".into()],
            ..Default::default()
        };
        assert!(tile.matches("hdfs"));
        assert!(tile.matches("Hadoop quota"));
        assert!(!tile.matches("kafka"));
        assert!(tile.matches("  "));
    }
}
