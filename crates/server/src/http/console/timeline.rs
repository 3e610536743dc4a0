//! A topic's timeline as SVG: a row per alert, its levels over time as coloured bands, drawn
//! from the topic's history (each level lasts from its change to the next, or to now).

use std::collections::BTreeMap;

use klaxon_core::Timestamp;
use klaxon_engine::HistoryEntry;

use super::esc;

const WIDTH: f64 = 800.0;
const LABEL: f64 = 180.0;
const ROW: f64 = 24.0;

/// The timeline of `history` (newest first, as the engine pages it) up to `now`.
pub fn svg(history: &[HistoryEntry], now: Timestamp) -> String {
    if history.is_empty() {
        return "<p class=\"empty\">Nothing to draw yet: the timeline shows level changes.</p>"
            .to_owned();
    }
    let mut by_alert: BTreeMap<&str, Vec<&HistoryEntry>> = BTreeMap::new();
    for entry in history {
        by_alert.entry(entry.id.as_str()).or_default().push(entry);
    }
    let start = history
        .iter()
        .map(|e| e.recorded)
        .min()
        .unwrap_or(now)
        .as_nanos();
    let end = now.as_nanos().max(start + 1);
    let span = (end - start) as f64;
    let x = |t: i64| LABEL + (WIDTH - LABEL) * ((t - start) as f64 / span);
    let height = ROW * (by_alert.len() as f64 + 1.0);
    let mut out = format!(
        "<figure class=\"timeline\"><svg viewBox=\"0 0 {WIDTH} {height}\" role=\"img\" \
         aria-labelledby=\"timeline-caption\" xmlns=\"http://www.w3.org/2000/svg\">"
    );
    for (row, (alert, entries)) in by_alert.iter_mut().enumerate() {
        entries.sort_by_key(|e| e.seq);
        let y = ROW * row as f64;
        out.push_str(&format!(
            "<text x=\"4\" y=\"{:.1}\" class=\"label\">{}</text>",
            y + ROW * 0.65,
            esc(&shorten(alert))
        ));
        for (i, entry) in entries.iter().enumerate() {
            let from = entry.recorded.as_nanos();
            let to = entries
                .get(i + 1)
                .map_or(end, |next| next.recorded.as_nanos());
            let level = entry.level.as_str();
            let silenced = if entry.silenced { " silenced" } else { "" };
            out.push_str(&format!(
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" \
                 class=\"band level-{}{silenced}\"><title>{}: {level}{} from {}</title></rect>",
                x(from),
                y + 3.0,
                (x(to) - x(from)).max(1.0),
                ROW - 6.0,
                level.to_ascii_lowercase(),
                esc(alert),
                if entry.silenced { " (silenced)" } else { "" },
                esc(&entry.recorded.to_string())
            ));
        }
    }
    let axis = ROW * by_alert.len() as f64 + ROW * 0.7;
    out.push_str(&format!(
        "<text x=\"{LABEL}\" y=\"{axis:.1}\" class=\"axis\">{}</text>\
         <text x=\"{WIDTH}\" y=\"{axis:.1}\" class=\"axis end\">now</text></svg>\
         <figcaption id=\"timeline-caption\">Levels of each alert since {}: \
         <span class=\"level level-ok\">OK</span> <span class=\"level level-info\">INFO</span> \
         <span class=\"level level-warning\">WARNING</span> \
         <span class=\"level level-critical\">CRITICAL</span>; hatched while silenced.\
         </figcaption></figure>",
        esc(&Timestamp::from_nanos(start).to_string()),
        esc(&Timestamp::from_nanos(start).to_string()),
    ));
    out
}

/// A label that fits its column.
fn shorten(text: &str) -> String {
    const MAX: usize = 26;
    if text.chars().count() <= MAX {
        return text.to_owned();
    }
    let kept: String = text.chars().take(MAX - 1).collect();
    format!("{kept}…")
}

#[cfg(test)]
mod tests {
    use klaxon_core::{GoDuration, Level};

    use super::*;

    fn entry(seq: u64, id: &str, level: Level, at: i64) -> HistoryEntry {
        HistoryEntry {
            seq,
            recorded: Timestamp::from_nanos(at),
            id: id.into(),
            time: Timestamp::from_nanos(at),
            level,
            previous_level: Level::Ok,
            message: String::new(),
            duration: GoDuration::ZERO,
            silenced: seq == 2,
        }
    }

    #[test]
    fn each_alert_is_a_row_of_bands_up_to_now() {
        let history = [
            entry(3, "b", Level::Warning, 50),
            entry(2, "a", Level::Ok, 40),
            entry(1, "a", Level::Critical, 0),
        ];
        let svg = svg(&history, Timestamp::from_nanos(100));
        assert_eq!(svg.matches("<rect").count(), 3);
        // a is CRITICAL from the start to 40% of the way, then OK (silenced).
        assert!(
            svg.contains("x=\"180.0\" y=\"3.0\" width=\"248.0\""),
            "{svg}"
        );
        assert!(svg.contains("class=\"band level-ok silenced\""), "{svg}");
        assert!(svg.contains("class=\"band level-warning\""), "{svg}");
    }
}
