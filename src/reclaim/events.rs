//! The engine's container events since the previous run (as far as the daemon still keeps them):
//! which images containers were started from, and when. Read once per run, with its own connection.

use std::collections::HashMap;

use bollard::Docker;
use bollard::query_parameters::EventsOptionsBuilder;
use futures_util::StreamExt;

/// `(image as the event names it, time)` of every container event in `[since, until]`.
pub fn container_uses(since: i64, until: i64) -> Result<Vec<(String, i64)>, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        let d = Docker::connect_with_defaults().map_err(|e| e.to_string())?;
        let d = d.negotiate_version().await.map_err(|e| e.to_string())?;
        let mut filters = HashMap::new();
        filters.insert("type", vec!["container"]);
        let opts = EventsOptionsBuilder::new()
            .since(&since.to_string())
            .until(&until.to_string())
            .filters(&filters)
            .build();
        let mut stream = d.events(Some(opts));
        let mut out = Vec::new();
        let read = async {
            while let Some(ev) = stream.next().await {
                let ev = ev.map_err(|e| e.to_string())?;
                let image = ev
                    .actor
                    .and_then(|a| a.attributes)
                    .and_then(|mut a| a.remove("image"));
                if let (Some(i), Some(t)) = (image, ev.time) {
                    out.push((i, t));
                }
            }
            Ok::<(), String>(())
        };
        tokio::time::timeout(std::time::Duration::from_secs(30), read)
            .await
            .map_err(|_| "the engine's events did not end in 30 s".to_string())??;
        Ok(out)
    })
}
