//! Credentials from the environment, as every Falcon SDK reads them: `FALCON_CLIENT_ID`,
//! `FALCON_CLIENT_SECRET`, `FALCON_BASE_URL` (a custom base such as a local Talon) or `FALCON_CLOUD`
//! (`us-1`, `us-2`, `us-3`, `eu-1`, `us-gov-1`, `us-gov-2`; default us-1), and `FALCON_MEMBER_CID` (MSSP).
//!
//! ```sh
//! FALCON_CLIENT_ID=... FALCON_CLIENT_SECRET=... FALCON_CLOUD=eu-1 cargo run -p talon --example credentials_from_env
//! ```

use talon::{Client, Credentials, HostQuery, Hosts};

#[tokio::main]
async fn main() -> Result<(), talon::Error> {
    let credentials = Credentials::from_env()?;
    // Debug shows where and as whom, never the secret.
    println!("{credentials:?}");
    let client = Client::builder(credentials).user_agent_suffix("credentials-from-env-example").build()?;
    println!("calling {}", client.base_url());

    let page = Hosts::new(client).query_devices_by_filter(&HostQuery::new().limit(1)).await?;
    println!("this API client sees {} hosts", page.pagination.total);
    Ok(())
}
