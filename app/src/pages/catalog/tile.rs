//! One service class as a tile of the catalog grid.

use leptos::prelude::*;

use crate::api::catalog::ClassTile;
use crate::components::class_icon::ClassIcon;

#[component]
pub fn Tile(tile: ClassTile) -> impl IntoView {
    let href = format!("/catalog/{}", tile.slug);
    let plans = match tile.plans {
        1 => "1 plan".to_string(),
        n => format!("{n} plans"),
    };
    let class = if tile.removed {
        "group flex h-full flex-col rounded-lg border border-dashed border-zinc-300 bg-zinc-50 p-4 opacity-75 dark:border-zinc-700 dark:bg-zinc-900/50"
    } else {
        "group flex h-full flex-col rounded-lg border border-zinc-200 bg-white p-4 shadow-xs transition hover:border-indigo-300 hover:shadow-sm focus-visible:outline-2 focus-visible:outline-indigo-600 dark:border-zinc-800 dark:bg-zinc-900 dark:hover:border-indigo-500/50"
    };
    view! {
        <li data-testid="catalog-tile" data-class=tile.external_name.clone()>
            <a href=href class=class>
                <div class="flex items-start gap-3">
                    <ClassIcon image_url=tile.image_url.clone() name=tile.display_name.clone() />
                    <div class="min-w-0 flex-1">
                        <h2 class="truncate text-sm font-semibold text-zinc-900 group-hover:text-indigo-700 dark:text-zinc-100 dark:group-hover:text-indigo-300">
                            {tile.display_name.clone()}
                        </h2>
                        <p class="truncate text-xs text-zinc-500 dark:text-zinc-400">
                            {if tile.provider.is_empty() { tile.broker.clone() } else { tile.provider.clone() }}
                        </p>
                    </div>
                </div>
                <p class="mt-3 line-clamp-2 flex-1 text-sm text-zinc-600 dark:text-zinc-300">{tile.description.clone()}</p>
                <div class="mt-3 flex flex-wrap items-center gap-1.5 text-xs">
                    {tile.removed.then(|| view! {
                        <span class="rounded bg-amber-100 px-1.5 py-0.5 font-medium text-amber-800 dark:bg-amber-500/15 dark:text-amber-300">"Removed from the broker's catalog"</span>
                    })}
                    {tile
                        .tags
                        .iter()
                        .take(4)
                        .map(|t| view! { <span class="rounded bg-zinc-100 px-1.5 py-0.5 text-zinc-600 dark:bg-zinc-800 dark:text-zinc-300">{t.clone()}</span> })
                        .collect_view()}
                    <span class="ml-auto text-zinc-500 dark:text-zinc-400">
                        {plans}
                        {tile.has_free_plan.then_some(" · free plan")}
                    </span>
                </div>
            </a>
        </li>
    }
}
