//! One service class as a tile of the catalog grid. Its classes (`qm-tile…`, in
//! `style/main.css`) are short on purpose: a catalog page repeats the tile many times.

use leptos::prelude::*;

use crate::api::catalog::ClassTile;
use crate::components::class_icon::ClassIcon;

#[component]
pub fn Tile(tile: ClassTile) -> impl IntoView {
    let href = format!("/catalog/{}", tile.slug);
    let plans = if tile.plans == 1 { "1 plan".to_string() } else { format!("{} plans", tile.plans) };
    let provider = if tile.provider.is_empty() { tile.broker } else { tile.provider };
    view! {
        <li data-testid="catalog-tile" data-class=tile.external_name>
            <a href=href class=if tile.removed { "qm-tile-removed" } else { "qm-tile" }>
                <div class="flex items-start gap-3">
                    <ClassIcon image_url=tile.image_url name=tile.display_name.clone() />
                    <div class="min-w-0 flex-1">
                        <h2 class="qm-tile-name">{tile.display_name}</h2>
                        <p class="qm-tile-sub">{provider}</p>
                    </div>
                </div>
                <p class="qm-tile-desc">{tile.description}</p>
                <div class="qm-tile-foot">
                    {tile.removed.then(|| view! {
                        <span class="rounded bg-amber-100 px-1.5 py-0.5 font-medium text-amber-800 dark:bg-amber-500/15 dark:text-amber-300">"Removed from the broker's catalog"</span>
                    })}
                    {tile.tags.into_iter().take(4).map(|t| view! { <span class="qm-tag">{t}</span> }).collect_view()}
                    <span class="ml-auto text-zinc-500 dark:text-zinc-400">{plans}{tile.has_free_plan.then_some(" · free plan")}</span>
                </div>
            </a>
        </li>
    }
}
