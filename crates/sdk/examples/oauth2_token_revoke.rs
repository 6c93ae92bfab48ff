//! The OAuth2 service class, as in the Falcon docs' first example: get a token, then revoke it.
//!
//! ```sh
//! FALCON_CLIENT_ID=... FALCON_CLIENT_SECRET=... FALCON_BASE_URL=http://127.0.0.1:8080 \
//!     cargo run -p talon --example oauth2_token_revoke
//! ```
//!
//! The token itself is never printed: it is a bearer credential.

use talon::{Client, Credentials, OAuth2};

#[tokio::main]
async fn main() -> Result<(), talon::Error> {
    let client = Client::builder(Credentials::from_env()?).build()?;
    let oauth2 = OAuth2::new(client);

    match oauth2.token().await {
        Ok(_token) => {
            println!("token: granted ({:?}, authenticated: {})", oauth2.token_status().await, oauth2.authenticated())
        }
        Err(e) => {
            // The reason says the status, the API's message and the trace ID, never the secret.
            eprintln!("token: refused: {e}");
            if let Some(reason) = oauth2.token_fail_reason().await {
                eprintln!("  status {}, message {:?}, trace ID {:?}", reason.status, reason.message, reason.trace_id);
            }
            return Err(e);
        }
    }

    // logout() revokes the cached token (oauth2RevokeToken) and forgets it; revoke(&token) revokes any
    // token of this client.
    oauth2.logout().await?;
    println!("revoke: done (authenticated: {})", oauth2.authenticated());
    Ok(())
}
