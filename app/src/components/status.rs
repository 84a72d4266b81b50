//! Status as colour plus word plus icon, never colour alone.

use leptos::prelude::*;

use crate::model::{Phase, StatusLine, Tone};

fn tone_classes(tone: Tone) -> &'static str {
    match tone {
        Tone::Green => {
            "bg-emerald-50 text-emerald-800 ring-emerald-600/20 dark:bg-emerald-500/10 dark:text-emerald-300 dark:ring-emerald-400/20"
        }
        Tone::Blue => {
            "bg-sky-50 text-sky-800 ring-sky-600/20 dark:bg-sky-500/10 dark:text-sky-300 dark:ring-sky-400/20"
        }
        Tone::Amber => {
            "bg-amber-50 text-amber-800 ring-amber-600/20 dark:bg-amber-500/10 dark:text-amber-300 dark:ring-amber-400/20"
        }
        Tone::Red => "bg-red-50 text-red-800 ring-red-600/20 dark:bg-red-500/10 dark:text-red-300 dark:ring-red-400/20",
        Tone::Purple => {
            "bg-purple-50 text-purple-800 ring-purple-600/20 dark:bg-purple-500/10 dark:text-purple-300 dark:ring-purple-400/20"
        }
    }
}

/// The icon of a phase (decorative: the word beside it carries the meaning).
#[component]
pub fn PhaseIcon(phase: Phase) -> impl IntoView {
    let path = match phase {
        Phase::Ready => "M4.5 10.5l3.5 3.5 7.5-8",
        Phase::Failed => "M6 6l8 8M14 6l-8 8",
        Phase::PendingApproval => "M10 5v5l3 2",
        Phase::OrphanMitigation => "M10 4v7M10 14.5v.5",
        // Busy phases: an arc that spins.
        _ => "M10 3a7 7 0 1 1-7 7",
    };
    let spin = if phase.busy() && phase != Phase::OrphanMitigation { " animate-spin" } else { "" };
    let pulse = if phase == Phase::OrphanMitigation { " animate-pulse" } else { "" };
    view! {
        <svg class=format!("h-3.5 w-3.5 shrink-0{spin}{pulse}") viewBox="0 0 20 20" fill="none" stroke="currentColor" stroke-width="2.2" stroke-linecap="round" aria-hidden="true">
            {(phase == Phase::PendingApproval).then(|| view! { <circle cx="10" cy="10" r="7" /> })}
            <path d=path />
        </svg>
    }
}

/// A badge: icon + word, coloured by the phase.
#[component]
pub fn StatusBadge(#[prop(into)] status: Signal<StatusLine>) -> impl IntoView {
    view! {
        {move || {
            let s = status.get();
            let phase = s.phase;
            view! {
                <span
                    data-status=phase.key()
                    class=format!("inline-flex items-center gap-1.5 rounded-full px-2 py-0.5 text-xs font-medium ring-1 ring-inset {}", tone_classes(phase.tone()))
                >
                    <PhaseIcon phase />
                    <span>{s.headline()}</span>
                </span>
            }
        }}
    }
}
