//! A class's icon: the broker's image when it may be shown, else a tile with its initials in a
//! colour derived from its name (so the same class always looks the same).

use leptos::prelude::*;

use super::safe::image_src;

const FALLBACK_COLOURS: [&str; 8] = [
    "bg-indigo-600",
    "bg-sky-600",
    "bg-emerald-600",
    "bg-amber-600",
    "bg-rose-600",
    "bg-violet-600",
    "bg-teal-600",
    "bg-zinc-600",
];

/// Up to two letters: the initials of the first two words, or the first two letters.
pub fn initials(name: &str) -> String {
    let words: Vec<&str> = name.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
    let letters: String = match words.as_slice() {
        [] => "?".into(),
        [one] => one.chars().take(2).collect(),
        [first, second, ..] => first.chars().take(1).chain(second.chars().take(1)).collect(),
    };
    letters.to_uppercase()
}

fn colour(name: &str) -> &'static str {
    let hash = name.bytes().fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    FALLBACK_COLOURS[hash as usize % FALLBACK_COLOURS.len()]
}

#[component]
pub fn ClassIcon(
    #[prop(into)] image_url: String,
    #[prop(into)] name: String,
    /// Tailwind size classes, e.g. "h-10 w-10".
    #[prop(default = "h-10 w-10")]
    size: &'static str,
) -> impl IntoView {
    match image_src(&image_url) {
        Some(src) => view! {
            <img src=src.to_string() alt="" class=format!("{size} shrink-0 rounded-md object-contain") loading="lazy" />
        }
        .into_any(),
        None => view! {
            <span
                aria-hidden="true"
                data-fallback-icon=""
                class=format!("{size} {} inline-flex shrink-0 items-center justify-center rounded-md text-sm font-semibold text-white", colour(&name))
            >
                {initials(&name)}
            </span>
        }
        .into_any(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn initials_of_names() {
        assert_eq!(super::initials("Apache Kafka"), "AK");
        assert_eq!(super::initials("redis"), "RE");
        assert_eq!(super::initials("--"), "?");
    }
}
