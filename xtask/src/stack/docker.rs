//! The Docker daemon: not started by us, only probed.

use std::time::Duration;

use bollard::Docker;

/// Pings the local daemon (negotiating the API version, since the daemon may be older
/// than bollard's default) and returns `"<engine version> (API <api version>)"`.
pub fn probe() -> anyhow::Result<String> {
    // bollard needs a tokio runtime; a thread of its own keeps this callable from async
    // code too.
    let handle = std::thread::spawn(|| -> anyhow::Result<String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(async {
            let probe = async {
                let docker = Docker::connect_with_local_defaults()?
                    .negotiate_version()
                    .await?;
                docker.ping().await?;
                let version = docker.version().await?;
                Ok::<_, bollard::errors::Error>(format!(
                    "{} (API {})",
                    version.version.unwrap_or_default(),
                    version.api_version.unwrap_or_default()
                ))
            };
            match tokio::time::timeout(Duration::from_secs(5), probe).await {
                Ok(result) => Ok(result?),
                Err(_) => anyhow::bail!("no answer within 5 s"),
            }
        })
    });
    handle
        .join()
        .map_err(|_| anyhow::anyhow!("the docker probe thread panicked"))?
}
